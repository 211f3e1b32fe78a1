using Kestrel.Cloud.Durable;

namespace Kestrel.Cloud.Functions.Samples;

/// <summary>The input of <see cref="ApprovalWorkflow"/>.</summary>
/// <param name="Request">What is to be approved, shown to the approver.</param>
/// <param name="TimeoutSeconds">How long to wait for a decision; 0 or absent means <see cref="ApprovalWorkflow.DefaultTimeoutSeconds"/>.</param>
public sealed record ApprovalRequest(string? Request, int TimeoutSeconds = 0);

/// <summary>The payload of the <c>approval</c> event.</summary>
/// <param name="Approved">True to approve, false to reject.</param>
/// <param name="By">Who decided.</param>
/// <param name="Reason">Why, optional.</param>
public sealed record ApprovalDecision(bool Approved, string? By = null, string? Reason = null);

/// <summary>The output of <see cref="ApprovalWorkflow"/>.</summary>
/// <param name="Outcome"><c>approved</c>, <c>rejected</c> or <c>timed-out</c>.</param>
/// <param name="Request">The request that was decided.</param>
/// <param name="By">Who decided (null when timed out).</param>
/// <param name="Reason">Why (for a time-out: how long it waited).</param>
/// <param name="DecidedAt">When the decision (or the time-out) was observed, UTC.</param>
public sealed record ApprovalResult(string Outcome, string? Request, string? By, string? Reason, DateTime DecidedAt);

/// <summary>
/// The human-in-the-loop sample: sets custom status <c>awaiting-approval</c>, waits for an <c>approval</c> event
/// (<see cref="ApprovalDecision"/>) on a durable timer, and returns approved, rejected or timed-out. The wait costs
/// no memory and survives restarts.
/// </summary>
public sealed class ApprovalWorkflow : TaskOrchestrator<ApprovalRequest?, ApprovalResult>
{
    /// <summary>The registered name.</summary>
    public const string Name = nameof(ApprovalWorkflow);

    /// <summary>The event name a decision is raised with.</summary>
    public const string EventName = "approval";

    /// <summary>The custom status while waiting.</summary>
    public const string AwaitingStatus = "awaiting-approval";

    /// <summary>The wait when the input gives none: one hour.</summary>
    public const int DefaultTimeoutSeconds = 3600;

    /// <summary>The longest wait accepted: 30 days.</summary>
    public const int MaxTimeoutSeconds = 30 * 24 * 3600;

    /// <inheritdoc/>
    public override async Task<ApprovalResult> RunAsync(TaskOrchestrationContext context, ApprovalRequest? input)
    {
        int requested = input?.TimeoutSeconds ?? 0;
        if (requested < 0 || requested > MaxTimeoutSeconds)
        {
            throw new ArgumentException(
                $"The value for timeoutSeconds must be from 1 to {MaxTimeoutSeconds} (30 days), or omitted for {DefaultTimeoutSeconds}; it is {requested}.");
        }

        int seconds = requested == 0 ? DefaultTimeoutSeconds : requested;
        string? request = input?.Request;
        context.SetCustomStatus(AwaitingStatus);
        ApprovalResult result;
        try
        {
            ApprovalDecision decision = await context.WaitForExternalEvent<ApprovalDecision>(EventName, TimeSpan.FromSeconds(seconds));
            string outcome = decision?.Approved == true ? "approved" : "rejected";
            result = new ApprovalResult(outcome, request, decision?.By, decision?.Reason, context.CurrentUtcDateTime);
        }
        catch (TaskCanceledException)
        {
            result = new ApprovalResult("timed-out", request, null, $"No decision within {seconds} seconds.", context.CurrentUtcDateTime);
        }

        context.SetCustomStatus(result.Outcome);
        return result;
    }
}
