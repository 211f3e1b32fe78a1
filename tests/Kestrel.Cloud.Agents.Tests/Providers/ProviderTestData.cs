using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tests.Providers;

internal static class ProviderTestData
{
    public static readonly AIFunctionDeclaration WeatherTool = AIFunctionFactory.CreateDeclaration(
        "get_weather",
        "Current weather for a city.",
        JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""").RootElement,
        null);

    public static List<ChatMessage> Conversation(string user = "What is the weather in Paris?") => new()
    {
        new ChatMessage(ChatRole.System, "You are terse."),
        new ChatMessage(ChatRole.User, user),
    };

    /// <summary>The conversation after the model asked for the weather tool and the tool answered.</summary>
    public static List<ChatMessage> ConversationWithToolResult()
    {
        List<ChatMessage> messages = Conversation();
        messages.Add(new ChatMessage(ChatRole.Assistant, new List<AIContent>
        {
            new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" }),
        }));
        messages.Add(new ChatMessage(ChatRole.Tool, new List<AIContent> { new FunctionResultContent("call_1", "18°C, sunny") }));
        return messages;
    }

    public static async Task<List<ChatResponseUpdate>> CollectAsync(IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        var list = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in updates)
        {
            list.Add(update);
        }

        return list;
    }
}
