namespace Kestrel.Cloud.Agents.Tools;

/// <summary>Limits applied to every tool call (configuration section <c>KestrelCloud:Tools</c>).</summary>
public sealed class ToolRegistryOptions
{
    /// <summary>The most UTF-8 bytes of one tool result the model receives; longer results are cut with a note.</summary>
    /// <value>The default value is 16,384 (16 KiB).</value>
    public int MaxResultSizeBytes { get; set; } = 16_384;

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (this.MaxResultSizeBytes < 1024 || this.MaxResultSizeBytes > 16_777_216)
        {
            errors.Add($"The value for MaxResultSizeBytes must be between 1024 and 16777216; it is {this.MaxResultSizeBytes}.");
        }

        OptionsErrors.ThrowIfAny("ToolRegistryOptions", errors);
    }
}
