using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Durable;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>
/// Activity results are kept in orchestration history and read back on replay, so a result written by an earlier
/// version (with members since removed) must still read with the engine's converter.
/// </summary>
public sealed class TurnModelsWireTests
{
    private static readonly ProviderUsage Usage = new(10, 2, 0, 0.5m, 1, 0);

    /// <summary>Proves a LoadContext result that still has estimatedHistoryTokens reads back.</summary>
    [Fact]
    public void TurnContext_WrittenWithEstimatedHistoryTokens_ReadsBack()
    {
        string old = JsonDataConverter.Default.Serialize(new
        {
            SystemPrompt = "You help.",
            History = new[] { new TurnMessage("user", "hi") },
            MaxIterations = 20,
            ToolTimeout = TimeSpan.FromMinutes(2),
            ApprovalTimeout = TimeSpan.FromHours(24),
            EstimatedHistoryTokens = 123,
            NeedsCompaction = true,
            MaxSpawnDepth = 2,
            MaxTurnMessagesSizeBytes = 4096,
            ToolResultDisplayMaxChars = 2000,
        })!;
        old.Should().Contain("\"estimatedHistoryTokens\":123");

        TurnContext context = JsonDataConverter.Default.Deserialize<TurnContext>(old)!;

        context.Should().BeEquivalentTo(new TurnContext(
            "You help.", new[] { new TurnMessage("user", "hi") }, 20, TimeSpan.FromMinutes(2), TimeSpan.FromHours(24), true, 2, 4096, 2000));
    }

    /// <summary>Proves a CompactSession result that still has summarizedMessages reads back.</summary>
    [Fact]
    public void CompactSessionResult_WrittenWithSummarizedMessages_ReadsBack()
    {
        string old = JsonDataConverter.Default.Serialize(new { History = new[] { new TurnMessage("system", "Summary") }, SummarizedMessages = 4, Usage })!;
        old.Should().Contain("\"summarizedMessages\":4");

        JsonDataConverter.Default.Deserialize<CompactSessionResult>(old).Should().BeEquivalentTo(
            new CompactSessionResult(new[] { new TurnMessage("system", "Summary") }, Usage));
    }

    /// <summary>Proves a CallModel result that still has callUsage and modelId reads back.</summary>
    [Fact]
    public void CallModelResult_WrittenWithCallUsageAndModelId_ReadsBack()
    {
        var plan = new ToolCallPlan("c1", "lookup", "{}", "allow", "default", true, false);
        string old = JsonDataConverter.Default.Serialize(new { Text = "Looking.", ToolCalls = new[] { plan }, CallUsage = Usage, TotalUsage = Usage, ModelId = "gpt-test" })!;
        old.Should().Contain("\"callUsage\":").And.Contain("\"modelId\":\"gpt-test\"");

        JsonDataConverter.Default.Deserialize<CallModelResult>(old).Should().BeEquivalentTo(new CallModelResult("Looking.", new[] { plan }, Usage));
    }
}
