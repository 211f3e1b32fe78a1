using Kestrel.Cloud.Agents.Turns;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>How turn messages convert to and from Microsoft.Extensions.AI chat messages.</summary>
public sealed class TurnMessagesTests
{
    private static readonly TurnMessage[] Conversation =
    {
        new("user", "Look it up."),
        new("assistant", "Looking.", new[] { new TurnToolCall("c1", "lookup", """{"q":"x"}"""), new TurnToolCall("c2", "writer", "{}") }),
        new("tool", "found x", CallId: "c1"),
        new("tool", "The call was denied.", CallId: "c2", IsError: true),
        new("assistant", "Done."),
    };

    /// <summary>
    /// Proves a model call's messages read back as the turn messages they came from, tool errors included (the
    /// context-overflow compaction summarises them this way): the error's text and flag are kept.
    /// </summary>
    [Fact]
    public void FromChatMessage_ModelCallMessages_ReadBackWithToolErrors()
    {
        IList<ChatMessage> chat = TurnMessages.ToChatMessages("You help.", Conversation);

        var back = chat.Skip(1).Select(TurnMessages.FromChatMessage).ToList();

        back.Should().BeEquivalentTo(Conversation, o => o.WithStrictOrdering());
        CompactSessionActivity.Transcript(back.Select(m => m!)).Should().Contain("Tool result (error): The call was denied.");
    }

    /// <summary>Proves session JSON round-trips the same messages, tool errors flagged.</summary>
    [Fact]
    public void FromSessionJson_RoundTripsToolErrors()
    {
        TurnMessages.FromSessionJson(TurnMessages.ToSessionJson(Conversation)).Should().BeEquivalentTo(Conversation, o => o.WithStrictOrdering());
    }
}
