namespace Kestrel.Cloud.Agents;

/// <summary>Reports every invalid option of an options class in one exception.</summary>
internal static class OptionsErrors
{
    public static void ThrowIfAny(string optionsName, List<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new ArgumentException($"{optionsName} is not valid:{Environment.NewLine}- " + string.Join(Environment.NewLine + "- ", errors));
        }
    }
}
