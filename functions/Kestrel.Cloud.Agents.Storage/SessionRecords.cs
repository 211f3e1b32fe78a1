using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Sessions;

namespace Kestrel.Cloud.Agents.Storage;

/// <summary>Argument checks and continuation tokens shared by the session stores.</summary>
internal static class SessionRecords
{
    /// <summary>Checks an agent name and a session key (ArgumentException with the rule).</summary>
    public static void Validate(string agent, string key)
    {
        AgentName.Validate(agent, nameof(agent));
        SessionKeys.Validate(key);
    }

    /// <summary>A continuation token naming the last session of a page: base64url of a JSON pair.</summary>
    public static string Token(string agent, string key) => Encode(agent, key);

    /// <summary>Reads a token made by <see cref="Token"/>; ArgumentException when it is not one.</summary>
    public static (string Agent, string Key) ParseToken(string token)
    {
        string[] pair = Decode(token, 2);
        return (pair[0], pair[1]);
    }

    /// <summary>base64url (RFC 4648 §5, no padding) of a JSON array of strings.</summary>
    public static string Encode(params string[] values) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(values));

    /// <summary>Reads a token made by <see cref="Encode"/> with <paramref name="count"/> values; ArgumentException when it is not one.</summary>
    public static string[] Decode(string token, int count)
    {
        try
        {
            string[]? values = JsonSerializer.Deserialize<string[]>(Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token)));
            if (values is not null && values.Length == count && values.All(v => v is not null))
            {
                return values;
            }
        }
        catch (FormatException)
        {
        }
        catch (JsonException)
        {
        }

        throw new ArgumentException("The continuation token is not one this store issued.", nameof(token));
    }
}
