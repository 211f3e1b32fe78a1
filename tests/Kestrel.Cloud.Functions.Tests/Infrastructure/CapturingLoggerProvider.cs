using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>One captured log entry.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

/// <summary>A hand-written logger provider that keeps every entry, for asserting event ids and texts.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> entries = new();

    /// <summary>Everything logged so far.</summary>
    public IReadOnlyList<LogEntry> Entries => this.entries.ToArray();

    /// <summary>Entries with the given event id.</summary>
    public IReadOnlyList<LogEntry> WithEventId(int id) => this.Entries.Where(e => e.EventId.Id == id && e.Category.StartsWith("Kestrel.Cloud", StringComparison.Ordinal)).ToList();

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this.entries);

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private sealed class Logger : ILogger
    {
        private readonly string category;
        private readonly ConcurrentQueue<LogEntry> entries;

        public Logger(string category, ConcurrentQueue<LogEntry> entries)
        {
            this.category = category;
            this.entries = entries;
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            this.entries.Enqueue(new LogEntry(this.category, logLevel, eventId, formatter(state, exception), exception));
    }
}
