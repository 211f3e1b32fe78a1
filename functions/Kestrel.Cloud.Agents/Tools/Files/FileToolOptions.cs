namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary>Limits of the workspace file tools (configuration section <c>KestrelCloud:Tools:Files</c>).</summary>
public sealed class FileToolOptions
{
    /// <summary>The most lines <c>files_read</c> returns per call (and its default <c>limit</c>).</summary>
    /// <value>The default value is 2,000.</value>
    public int MaxReadLines { get; set; } = 2_000;

    /// <summary>Longest line shown by <c>files_read</c> and <c>files_search</c>, in characters; longer lines are cut with "…".</summary>
    /// <value>The default value is 2,000.</value>
    public int MaxLineLength { get; set; } = 2_000;

    /// <summary>Largest content <c>files_write</c> writes and largest file <c>files_edit</c> edits, in bytes.</summary>
    /// <value>The default value is 1,048,576 (1 MiB).</value>
    public int MaxWriteSizeBytes { get; set; } = 1_048_576;

    /// <summary>The most entries <c>files_list</c> returns.</summary>
    /// <value>The default value is 500.</value>
    public int MaxListEntries { get; set; } = 500;

    /// <summary>The most matching lines <c>files_search</c> returns.</summary>
    /// <value>The default value is 100.</value>
    public int MaxSearchResults { get; set; } = 100;

    /// <summary>The most files <c>files_search</c> looks at per call.</summary>
    /// <value>The default value is 5,000.</value>
    public int MaxSearchFiles { get; set; } = 5_000;

    /// <summary>Files larger than this are skipped by <c>files_search</c>, in bytes.</summary>
    /// <value>The default value is 1,048,576 (1 MiB).</value>
    public int MaxSearchFileSizeBytes { get; set; } = 1_048_576;

    /// <summary>How long one regular-expression match may take before the search stops.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan RegexMatchTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        void AtLeast(int value, int min, string name)
        {
            if (value < min)
            {
                errors.Add($"The value for {name} must be at least {min}; it is {value}.");
            }
        }

        AtLeast(this.MaxReadLines, 1, nameof(this.MaxReadLines));
        AtLeast(this.MaxLineLength, 80, nameof(this.MaxLineLength));
        AtLeast(this.MaxWriteSizeBytes, 1, nameof(this.MaxWriteSizeBytes));
        AtLeast(this.MaxListEntries, 1, nameof(this.MaxListEntries));
        AtLeast(this.MaxSearchResults, 1, nameof(this.MaxSearchResults));
        AtLeast(this.MaxSearchFiles, 1, nameof(this.MaxSearchFiles));
        AtLeast(this.MaxSearchFileSizeBytes, 1, nameof(this.MaxSearchFileSizeBytes));
        if (this.RegexMatchTimeout <= TimeSpan.Zero)
        {
            errors.Add($"The value for {nameof(this.RegexMatchTimeout)} must be greater than zero; it is {this.RegexMatchTimeout}.");
        }

        OptionsErrors.ThrowIfAny(nameof(FileToolOptions), errors);
    }
}
