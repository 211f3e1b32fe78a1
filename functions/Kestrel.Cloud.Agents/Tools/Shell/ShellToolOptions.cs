namespace Kestrel.Cloud.Agents.Tools.Shell;

/// <summary>The shell tool (configuration section <c>KestrelCloud:Tools:Shell</c>). Standalone mode only; off unless <see cref="Enabled"/>.</summary>
public sealed class ShellToolOptions
{
    /// <summary>Whether the shell tool runs commands at all. Every call still needs a human's approval.</summary>
    /// <value>The default value is false.</value>
    public bool Enabled { get; set; }

    /// <summary>The shell that runs each command as <c>&lt;shell&gt; -c &lt;command&gt;</c>.</summary>
    /// <value>The default value is "/bin/bash".</value>
    public string ShellPath { get; set; } = "/bin/bash";

    /// <summary>How long a command may run; then its whole process tree is killed.</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The most bytes of output (stdout and stderr together) kept; the rest is read and discarded.</summary>
    /// <value>The default value is 16,384 (16 KiB).</value>
    public int MaxOutputBytes { get; set; } = 16_384;

    /// <summary>
    /// Environment variables passed from the server to commands; every other variable (API keys among them) is
    /// removed. HOME is set to the workspace folder.
    /// </summary>
    /// <value>The default value is PATH, LANG, LC_ALL, TZ and TERM.</value>
    public IList<string> PassEnvironmentVariables { get; set; } = new List<string> { "PATH", "LANG", "LC_ALL", "TZ", "TERM" };

    /// <summary>How long to wait for output pipes to close after the command exits or is killed.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan OutputDrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(this.ShellPath))
        {
            errors.Add("The value for ShellPath must not be empty.");
        }

        if (this.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"The value for Timeout must be greater than zero; it is {this.Timeout}.");
        }

        if (this.MaxOutputBytes < 1024)
        {
            errors.Add($"The value for MaxOutputBytes must be at least 1024; it is {this.MaxOutputBytes}.");
        }

        if (this.OutputDrainTimeout <= TimeSpan.Zero)
        {
            errors.Add($"The value for OutputDrainTimeout must be greater than zero; it is {this.OutputDrainTimeout}.");
        }

        OptionsErrors.ThrowIfAny(nameof(ShellToolOptions), errors);
    }
}
