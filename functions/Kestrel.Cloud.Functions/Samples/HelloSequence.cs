using Kestrel.Cloud.Durable;

namespace Kestrel.Cloud.Functions.Samples;

/// <summary>
/// The classic function-chaining sample: three calls to the <c>SayHello</c> activity, one after the other.
/// Output: <c>["Hello Tokyo!", "Hello Seattle!", "Hello London!"]</c>. Input: none.
/// </summary>
public sealed class HelloSequence : TaskOrchestrator<object?, IReadOnlyList<string>>
{
    /// <summary>The registered name.</summary>
    public const string Name = nameof(HelloSequence);

    /// <inheritdoc/>
    public override async Task<IReadOnlyList<string>> RunAsync(TaskOrchestrationContext context, object? input)
    {
        var greetings = new List<string>
        {
            await context.CallActivityAsync<string>(SayHello.Name, "Tokyo"),
            await context.CallActivityAsync<string>(SayHello.Name, "Seattle"),
            await context.CallActivityAsync<string>(SayHello.Name, "London"),
        };
        return greetings;
    }
}

/// <summary>The activity of <see cref="HelloSequence"/>: <c>"Tokyo"</c> → <c>"Hello Tokyo!"</c>.</summary>
public sealed class SayHello : TaskActivity<string?, string>
{
    /// <summary>The registered name.</summary>
    public const string Name = nameof(SayHello);

    /// <inheritdoc/>
    public override Task<string> RunAsync(TaskActivityContext context, string? input) =>
        Task.FromResult($"Hello {(string.IsNullOrWhiteSpace(input) ? "world" : input)}!");
}
