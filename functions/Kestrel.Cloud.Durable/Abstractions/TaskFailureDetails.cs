namespace Kestrel.Cloud.Durable;

/// <summary>What failed: the exception type, its message, its stack trace and the inner failure.</summary>
/// <param name="ErrorType">The full name of the exception type, for example <c>System.InvalidOperationException</c>.</param>
/// <param name="ErrorMessage">The exception message.</param>
/// <param name="StackTrace">The stack trace, if any.</param>
/// <param name="InnerFailure">The failure that caused this one, if any.</param>
public sealed record TaskFailureDetails(string ErrorType, string ErrorMessage, string? StackTrace = null, TaskFailureDetails? InnerFailure = null)
{
    /// <summary>Builds failure details from an exception, unwrapping <see cref="TaskFailedException"/> chains.</summary>
    public static TaskFailureDetails FromException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is TaskFailedException tfe)
        {
            return new TaskFailureDetails(typeof(TaskFailedException).FullName!, tfe.Message, tfe.StackTrace, tfe.FailureDetails);
        }

        return new TaskFailureDetails(
            exception.GetType().FullName ?? exception.GetType().Name,
            exception.Message,
            exception.StackTrace,
            exception.InnerException is null ? null : FromException(exception.InnerException));
    }

    /// <summary>True when this failure, or one of its inner failures, was caused by an exception of type <typeparamref name="T"/>.</summary>
    public bool IsCausedBy<T>() where T : Exception
    {
        for (TaskFailureDetails? f = this; f is not null; f = f.InnerFailure)
        {
            if (string.Equals(f.ErrorType, typeof(T).FullName, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{this.ErrorType}: {this.ErrorMessage}";
}
