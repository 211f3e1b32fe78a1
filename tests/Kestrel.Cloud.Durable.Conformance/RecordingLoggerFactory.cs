using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>One log line captured by <see cref="RecordingLoggerFactory"/>.</summary>
/// <param name="Category">The logger category.</param>
/// <param name="Level">The level.</param>
/// <param name="EventId">The event id.</param>
/// <param name="Message">The formatted message.</param>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message);

/// <summary>A hand-written logger factory that keeps every line written through it, at every level.</summary>
public sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<LogEntry> entries = new();

    /// <summary>Every line so far, in order.</summary>
    public IReadOnlyList<LogEntry> Entries => this.entries.ToArray();

    /// <summary>The lines of one category, in order.</summary>
    public IReadOnlyList<LogEntry> ForCategory(string category) =>
        this.entries.Where(e => string.Equals(e.Category, category, StringComparison.Ordinal)).ToList();

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new RecordingLogger(this, categoryName);

    /// <inheritdoc/>
    public void AddProvider(ILoggerProvider provider)
    {
        // Not needed: this factory records lines itself.
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly RecordingLoggerFactory owner;
        private readonly string category;

        public RecordingLogger(RecordingLoggerFactory owner, string category)
        {
            this.owner = owner;
            this.category = category;
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            this.owner.entries.Enqueue(new LogEntry(this.category, logLevel, eventId, formatter(state, exception)));
    }
}
