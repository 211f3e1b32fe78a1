using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kestrel.Cloud.Agents.Policy;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// Parses and validates an agent folder's files into an <see cref="AgentDefinition"/>. Every problem is collected
/// and reported together in one <see cref="AgentDefinitionException"/>, each pointing at its file and field.
/// The format is described in docs/agents.md.
/// </summary>
public static partial class AgentDefinitionParser
{
    /// <summary>The agent file.</summary>
    public const string AgentFileName = "AGENT.md";

    /// <summary>The tool guidance file.</summary>
    public const string ToolsFileName = "TOOLS.md";

    /// <summary>The heartbeat instructions file.</summary>
    public const string HeartbeatFileName = "HEARTBEAT.md";

    /// <summary>The memory folder.</summary>
    public const string MemoryFolder = "memory";

    /// <summary>The skills folder.</summary>
    public const string SkillsFolder = "skills";

    /// <summary>The file in each skill folder.</summary>
    public const string SkillFileName = "SKILL.md";

    private static readonly string[] KnownFields =
    {
        "name", "description", "provider", "model", "temperature", "max_output_tokens", "tools", "approval", "max_iterations", "tool_timeout",
    };

    /// <summary>
    /// Parses an agent. <paramref name="memory"/> are the summaries of its memory files and <paramref name="skills"/>
    /// the text of each <c>skills/&lt;folder&gt;/SKILL.md</c> (null text when the folder has none).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a valid agent name.</exception>
    /// <exception cref="AgentDefinitionException">The files have problems; all of them are listed.</exception>
    public static AgentDefinition Parse(string name, AgentFiles files, IReadOnlyList<MemorySummary>? memory = null, IReadOnlyList<SkillSource>? skills = null)
    {
        AgentName.Validate(name);
        ArgumentNullException.ThrowIfNull(files);
        var errors = new List<AgentDefinitionError>();
        AgentDefinition? definition = ParseCore(name, files, memory ?? Array.Empty<MemorySummary>(), skills ?? Array.Empty<SkillSource>(), errors);
        if (errors.Count > 0 || definition is null)
        {
            throw new AgentDefinitionException(name, errors);
        }

        return definition;
    }

    /// <summary>Parses an agent whose folder already showed problems (<paramref name="folderErrors"/>); all are reported together.</summary>
    internal static AgentDefinition ParseWithFolderErrors(string name, AgentFiles files, IReadOnlyList<MemorySummary> memory, IReadOnlyList<SkillSource> skills, List<AgentDefinitionError> folderErrors)
    {
        var errors = new List<AgentDefinitionError>(folderErrors);
        AgentDefinition? definition = ParseCore(name, files, memory, skills, errors);
        if (errors.Count > 0 || definition is null)
        {
            throw new AgentDefinitionException(name, errors);
        }

        return definition;
    }

    /// <summary>Parses a skill file loaded on demand: its name, description and body.</summary>
    /// <exception cref="AgentDefinitionException">The skill has problems; all of them are listed.</exception>
    public static SkillDocument ParseSkill(string agentName, string skillFolder, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new List<AgentDefinitionError>();
        SkillDocument? skill = ParseSkillCore(skillFolder, text, errors);
        if (errors.Count > 0 || skill is null)
        {
            throw new AgentDefinitionException(agentName, errors);
        }

        return skill;
    }

    /// <summary>The version fingerprint of a set of definition files.</summary>
    public static string ComputeVersion(AgentFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        string joined = string.Join('\0', AgentFileName, files.AgentMarkdown, ToolsFileName, files.ToolsMarkdown ?? "\u0001", HeartbeatFileName, files.HeartbeatMarkdown ?? "\u0001");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined)))[..16];
    }

    private static AgentDefinition? ParseCore(string name, AgentFiles files, IReadOnlyList<MemorySummary> memory, IReadOnlyList<SkillSource> skills, List<AgentDefinitionError> errors)
    {
        var fields = new FieldValues();
        string systemPrompt = string.Empty;
        if (files.AgentMarkdown is null)
        {
            errors.Add(new(AgentFileName, string.Empty, null, "the file is missing; every agent folder needs an AGENT.md with the system prompt."));
        }
        else if (CheckSize(AgentFileName, files.AgentMarkdown, AgentDefinitionLimits.MaxAgentFileSizeBytes, errors))
        {
            FrontMatter split = FrontMatter.Split(files.AgentMarkdown);
            if (split.IsUnclosed)
            {
                errors.Add(new(AgentFileName, AgentDefinitionError.FrontMatter, null, "the front matter that starts on line 1 has no closing '---' line."));
            }
            else
            {
                if (split.Yaml is not null && LoadMapping(AgentFileName, split, errors) is { } mapping)
                {
                    ReadAgentFields(name, mapping, fields, new FieldErrors(AgentFileName, errors));
                }

                systemPrompt = split.Body.Trim();
                if (systemPrompt.Length == 0)
                {
                    errors.Add(new(AgentFileName, AgentDefinitionError.Body, null, "the system prompt is empty; write the agent's instructions below the front matter."));
                }
            }
        }

        string? toolGuidance = ReadAuxiliary(ToolsFileName, files.ToolsMarkdown, errors);
        string? heartbeat = ReadAuxiliary(HeartbeatFileName, files.HeartbeatMarkdown, errors);

        var skillSummaries = new List<SkillSummary>();
        foreach (SkillSource source in skills.OrderBy(s => s.FolderName, StringComparer.Ordinal).Take(AgentDefinitionLimits.MaxSkills))
        {
            string path = $"{SkillsFolder}/{source.FolderName}/{SkillFileName}";
            if (source.Text is null)
            {
                errors.Add(new(path, string.Empty, null, "the file is missing; every folder under skills/ needs a SKILL.md with name and description in its front matter."));
                continue;
            }

            if (ParseSkillCore(source.FolderName, source.Text, errors) is { } skill)
            {
                skillSummaries.Add(new SkillSummary(skill.Name, skill.Description, path));
            }
        }

        if (errors.Count > 0)
        {
            return null;
        }

        return new AgentDefinition(
            name,
            files,
            ComputeVersion(files),
            fields.Description,
            fields.Provider,
            fields.Model,
            fields.Temperature,
            fields.MaxOutputTokens,
            (IReadOnlyList<ToolPattern>?)fields.Tools ?? new[] { ToolPattern.Parse("*") },
            new ToolPolicy(fields.Rules ?? new List<ToolPolicyRule>()),
            fields.MaxIterations ?? AgentDefinitionLimits.DefaultMaxIterations,
            fields.ToolTimeout ?? AgentDefinitionLimits.DefaultToolTimeout,
            systemPrompt,
            toolGuidance,
            heartbeat,
            memory.OrderBy(m => m.Path, StringComparer.Ordinal).Take(AgentDefinitionLimits.MaxMemoryFiles).ToArray(),
            skillSummaries);
    }

    private static void ReadAgentFields(string agentName, YamlMappingNode mapping, FieldValues values, FieldErrors errors)
    {
        foreach (KeyValuePair<YamlNode, YamlNode> entry in mapping.Children)
        {
            string key = entry.Key is YamlScalarNode k ? k.Value ?? string.Empty : entry.Key.ToString();
            YamlNode node = entry.Value;
            if (IsNull(node))
            {
                if (!KnownFields.Contains(key, StringComparer.Ordinal))
                {
                    errors.Add(key, UnknownField(key));
                }

                continue;
            }

            switch (key)
            {
                case "name":
                    if (ReadString(key, node, errors) is { } declared && declared != agentName)
                    {
                        errors.Add(key, $"name must match the agent's folder name '{agentName}' (found \"{declared}\"); remove it or rename the folder.");
                    }

                    break;
                case "description":
                    values.Description = ReadString(key, node, errors)?.Trim();
                    if (values.Description?.Length > AgentDefinitionLimits.MaxDescriptionLength)
                    {
                        errors.Add(key, $"description must be at most {AgentDefinitionLimits.MaxDescriptionLength} characters (found {values.Description.Length}).");
                    }

                    break;
                case "provider":
                    values.Provider = ReadString(key, node, errors);
                    if (values.Provider is not null && !ProviderName().IsMatch(values.Provider))
                    {
                        errors.Add(key, $"provider must be 1-64 lowercase letters, digits, '-' or '_', naming a configured provider such as openai or anthropic (found \"{values.Provider}\").");
                    }

                    break;
                case "model":
                    values.Model = ReadString(key, node, errors)?.Trim();
                    if (values.Model is not null && (values.Model.Length == 0 || values.Model.Length > AgentDefinitionLimits.MaxModelLength || values.Model.Contains('\n', StringComparison.Ordinal)))
                    {
                        errors.Add(key, $"model must be one line of 1-{AgentDefinitionLimits.MaxModelLength} characters, such as gpt-4.1 or claude-sonnet-4-5 (found \"{Shorten(values.Model)}\").");
                    }

                    break;
                case "temperature":
                    values.Temperature = ReadNumber(key, node, 0, AgentDefinitionLimits.MaxTemperature, errors);
                    break;
                case "max_output_tokens":
                    values.MaxOutputTokens = ReadInteger(key, node, 1, AgentDefinitionLimits.MaxOutputTokens, errors);
                    break;
                case "max_iterations":
                    values.MaxIterations = ReadInteger(key, node, AgentDefinitionLimits.MinIterations, AgentDefinitionLimits.MaxIterations, errors);
                    break;
                case "tool_timeout":
                    values.ToolTimeout = ReadDuration(key, node, errors);
                    break;
                case "tools":
                    values.Tools = ReadTools(key, node, errors);
                    break;
                case "approval":
                    values.Rules = ReadRules(key, node, errors);
                    break;
                default:
                    errors.Add(key, UnknownField(key));
                    break;
            }
        }
    }

    private static List<ToolPattern>? ReadTools(string key, YamlNode node, FieldErrors errors)
    {
        if (node is not YamlSequenceNode list)
        {
            errors.Add(key, $"tools must be a list of tool names or patterns, such as [\"http_fetch\", \"files_*\"] (found {Describe(node)}).");
            return null;
        }

        if (list.Children.Count > AgentDefinitionLimits.MaxListEntries)
        {
            errors.Add(key, $"tools may list at most {AgentDefinitionLimits.MaxListEntries} entries (found {list.Children.Count}).");
            return null;
        }

        var patterns = new List<ToolPattern>();
        for (int i = 0; i < list.Children.Count; i++)
        {
            string field = $"{key}[{i}]";
            if (list.Children[i] is not YamlScalarNode scalar || IsNull(scalar))
            {
                errors.Add(field, $"{field} must be a tool name or pattern (found {Describe(list.Children[i])}).");
                continue;
            }

            if (ToolPattern.TryParse(scalar.Value, out ToolPattern? pattern, out string? error))
            {
                patterns.Add(pattern);
            }
            else
            {
                errors.Add(field, $"{field}: {error}");
            }
        }

        return patterns;
    }

    private static List<ToolPolicyRule>? ReadRules(string key, YamlNode node, FieldErrors errors)
    {
        if (node is not YamlSequenceNode list)
        {
            errors.Add(key, $"approval must be a list of rules, each with tool and action, such as '- tool: files_*' and 'action: allow' (found {Describe(node)}).");
            return null;
        }

        if (list.Children.Count > AgentDefinitionLimits.MaxListEntries)
        {
            errors.Add(key, $"approval may list at most {AgentDefinitionLimits.MaxListEntries} rules (found {list.Children.Count}).");
            return null;
        }

        var rules = new List<ToolPolicyRule>();
        for (int i = 0; i < list.Children.Count; i++)
        {
            string field = $"{key}[{i}]";
            if (list.Children[i] is not YamlMappingNode rule)
            {
                errors.Add(field, $"{field} must be a rule with tool and action, such as '- tool: files_*' and 'action: allow' (found {Describe(list.Children[i])}).");
                continue;
            }

            ToolPattern? pattern = null;
            ToolPolicyAction? action = null;
            bool sawTool = false;
            bool sawAction = false;
            foreach (KeyValuePair<YamlNode, YamlNode> entry in rule.Children)
            {
                string ruleKey = entry.Key is YamlScalarNode k ? k.Value ?? string.Empty : entry.Key.ToString();
                string ruleField = $"{field}.{ruleKey}";
                switch (ruleKey)
                {
                    case "tool":
                        sawTool = true;
                        if (ReadString(ruleField, entry.Value, errors) is { } text)
                        {
                            if (ToolPattern.TryParse(text, out ToolPattern? parsed, out string? error))
                            {
                                pattern = parsed;
                            }
                            else
                            {
                                errors.Add(ruleField, $"{ruleField}: {error}");
                            }
                        }

                        break;
                    case "action":
                        sawAction = true;
                        string? actionText = entry.Value is YamlScalarNode s ? s.Value : null;
                        if (ToolPolicyRule.TryParseAction(actionText, out ToolPolicyAction parsedAction))
                        {
                            action = parsedAction;
                        }
                        else
                        {
                            errors.Add(ruleField, $"{ruleField} must be allow, deny or ask (found {Describe(entry.Value)}).");
                        }

                        break;
                    default:
                        errors.Add(ruleField, $"{field} has an unknown field '{ruleKey}'; a rule has only tool and action.");
                        break;
                }
            }

            if (!sawTool)
            {
                errors.Add($"{field}.tool", $"{field}.tool is required: name the tool or pattern the rule covers, such as files_* or mcp:github/*.");
            }

            if (!sawAction)
            {
                errors.Add($"{field}.action", $"{field}.action is required: allow, deny or ask.");
            }

            if (pattern is not null && action is not null)
            {
                rules.Add(new ToolPolicyRule(pattern, action.Value));
            }
        }

        return rules;
    }

    private static SkillDocument? ParseSkillCore(string folder, string text, List<AgentDefinitionError> errors)
    {
        string file = $"{SkillsFolder}/{folder}/{SkillFileName}";
        if (!AgentName.IsValid(folder))
        {
            errors.Add(new(file, string.Empty, null, $"the skill folder name '{folder}' is not valid: use 1-{AgentName.MaxLength} lowercase letters, digits and '-', starting with a letter or digit."));
            return null;
        }

        if (!CheckSize(file, text, AgentDefinitionLimits.MaxSkillFileSizeBytes, errors))
        {
            return null;
        }

        FrontMatter split = FrontMatter.Split(text);
        if (split.IsUnclosed)
        {
            errors.Add(new(file, AgentDefinitionError.FrontMatter, null, "the front matter that starts on line 1 has no closing '---' line."));
            return null;
        }

        if (split.Yaml is null)
        {
            errors.Add(new(file, AgentDefinitionError.FrontMatter, null, "the front matter is missing; start the file with '---', then 'name:' and 'description:' lines, then '---'."));
            return null;
        }

        int before = errors.Count;
        YamlMappingNode? mapping = LoadMapping(file, split, errors);
        if (mapping is null)
        {
            return null;
        }

        var fieldErrors = new FieldErrors(file, errors);
        string? name = null;
        string? description = null;
        foreach (KeyValuePair<YamlNode, YamlNode> entry in mapping.Children)
        {
            string key = entry.Key is YamlScalarNode k ? k.Value ?? string.Empty : string.Empty;

            // Other fields (license, allowed-tools, metadata, ...) are accepted and ignored, for skills written for other hosts.
            if (key == "name" && !IsNull(entry.Value))
            {
                name = ReadString(key, entry.Value, fieldErrors);
            }
            else if (key == "description" && !IsNull(entry.Value))
            {
                description = ReadString(key, entry.Value, fieldErrors)?.Trim();
            }
        }

        if (name is null)
        {
            fieldErrors.Add("name", $"name is required and must be the skill's folder name ('{folder}').");
        }
        else if (name != folder)
        {
            fieldErrors.Add("name", $"name must match the skill's folder name '{folder}' (found \"{name}\").");
        }

        if (string.IsNullOrEmpty(description))
        {
            fieldErrors.Add("description", "description is required: say what the skill does and when to use it.");
        }
        else if (description.Length > AgentDefinitionLimits.MaxDescriptionLength)
        {
            fieldErrors.Add("description", $"description must be at most {AgentDefinitionLimits.MaxDescriptionLength} characters (found {description.Length}).");
        }

        return errors.Count > before ? null : new SkillDocument(folder, description!, split.Body.Trim());
    }

    private static YamlMappingNode? LoadMapping(string file, FrontMatter split, List<AgentDefinitionError> errors)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(split.Yaml!));
        }
        catch (YamlException ex)
        {
            long line = split.YamlFirstLine - 1 + ex.Start.Line;
            string reason = YamlMessagePrefix().Replace(ex.InnerException?.Message ?? ex.Message, string.Empty).Trim().TrimEnd('.');
            errors.Add(new(file, AgentDefinitionError.FrontMatter, null, $"the YAML is not valid at line {line}, column {ex.Start.Column}: {reason}."));
            return null;
        }

        if (stream.Documents.Count == 0 || IsNull(stream.Documents[0].RootNode))
        {
            return new YamlMappingNode();
        }

        if (stream.Documents[0].RootNode is YamlMappingNode mapping)
        {
            return mapping;
        }

        errors.Add(new(file, AgentDefinitionError.FrontMatter, null, $"the front matter must be fields such as 'model: gpt-4.1', one per line (found {Describe(stream.Documents[0].RootNode)})."));
        return null;
    }

    private static string? ReadAuxiliary(string file, string? text, List<AgentDefinitionError> errors)
    {
        if (text is null || !CheckSize(file, text, AgentDefinitionLimits.MaxAuxiliaryFileSizeBytes, errors))
        {
            return null;
        }

        string trimmed = text.TrimStart('\uFEFF').Trim();
        return trimmed.Length == 0 ? null : trimmed;
    }

    private static bool CheckSize(string file, string text, int maxBytes, List<AgentDefinitionError> errors)
    {
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes <= maxBytes)
        {
            return true;
        }

        errors.Add(new(file, string.Empty, null, $"the file is {bytes:N0} bytes; the limit is {maxBytes:N0} bytes."));
        return false;
    }

    private static string? ReadString(string key, YamlNode node, FieldErrors errors)
    {
        if (node is YamlScalarNode scalar && !IsNull(scalar))
        {
            return scalar.Value;
        }

        if (node is not YamlScalarNode)
        {
            errors.Add(key, $"{key} must be text (found {Describe(node)}).");
        }

        return null;
    }

    private static int? ReadInteger(string key, YamlNode node, int min, int max, FieldErrors errors)
    {
        string? text = (node as YamlScalarNode)?.Value;
        if (node is not YamlScalarNode || !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            errors.Add(key, $"{key} must be a whole number between {min} and {max} (found {Describe(node)}).");
            return null;
        }

        if (value < min || value > max)
        {
            errors.Add(key, $"{key} must be between {min} and {max} (found {value}).");
            return null;
        }

        return (int)value;
    }

    private static double? ReadNumber(string key, YamlNode node, double min, double max, FieldErrors errors)
    {
        string? text = (node as YamlScalarNode)?.Value;
        if (node is not YamlScalarNode || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            errors.Add(key, $"{key} must be a number between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)} (found {Describe(node)}).");
            return null;
        }

        if (value < min || value > max)
        {
            errors.Add(key, $"{key} must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)} (found {text}).");
            return null;
        }

        return value;
    }

    private static TimeSpan? ReadDuration(string key, YamlNode node, FieldErrors errors)
    {
        string? text = (node as YamlScalarNode)?.Value;
        if (node is not YamlScalarNode || !Durations.TryParse(text, out TimeSpan value))
        {
            errors.Add(key, $"{key} must be a duration such as \"30s\", \"2m\" or \"1m30s\" (found {Describe(node)}).");
            return null;
        }

        if (value < AgentDefinitionLimits.MinToolTimeout || value > AgentDefinitionLimits.MaxToolTimeout)
        {
            errors.Add(key, $"{key} must be between {Durations.Format(AgentDefinitionLimits.MinToolTimeout)} and {Durations.Format(AgentDefinitionLimits.MaxToolTimeout)} (found \"{text}\").");
            return null;
        }

        return value;
    }

    private static string UnknownField(string key)
    {
        string? suggestion = KnownFields
            .Select(f => (Field: f, Distance: Distance(f, key)))
            .Where(x => x.Distance <= 2)
            .OrderBy(x => x.Distance)
            .Select(x => x.Field)
            .FirstOrDefault();
        return suggestion is not null
            ? $"{key} is not a known field; did you mean {suggestion}?"
            : $"{key} is not a known field; the fields are {string.Join(", ", KnownFields)}.";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            }
        }

        return d[a.Length, b.Length];
    }

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } scalar && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    private static string Describe(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        YamlScalarNode s when IsNull(s) => "nothing",
        YamlScalarNode s when s.Style is ScalarStyle.Plain && double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) => s.Value!,
        YamlScalarNode s => $"\"{Shorten(s.Value ?? string.Empty)}\"",
        _ => "an unsupported value",
    };

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex ProviderName();

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex YamlMessagePrefix();

    private sealed class FieldValues
    {
        public string? Description { get; set; }

        public string? Provider { get; set; }

        public string? Model { get; set; }

        public double? Temperature { get; set; }

        public int? MaxOutputTokens { get; set; }

        public int? MaxIterations { get; set; }

        public TimeSpan? ToolTimeout { get; set; }

        public List<ToolPattern>? Tools { get; set; }

        public List<ToolPolicyRule>? Rules { get; set; }
    }

    private sealed class FieldErrors
    {
        private readonly string file;
        private readonly List<AgentDefinitionError> errors;

        public FieldErrors(string file, List<AgentDefinitionError> errors)
        {
            this.file = file;
            this.errors = errors;
        }

        public void Add(string field, string message) => this.errors.Add(new(this.file, AgentDefinitionError.FrontMatter, field, message));
    }
}

/// <summary>A skill folder's SKILL.md as text, for <see cref="AgentDefinitionParser.Parse"/>.</summary>
/// <param name="FolderName">The folder under <c>skills/</c>.</param>
/// <param name="Text">The text of its SKILL.md, or null when it has none.</param>
public sealed record SkillSource(string FolderName, string? Text);
