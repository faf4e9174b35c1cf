using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Edge.Onnx.Tests.Runtime;

/// <summary>A logger factory that keeps every line, for asserting on what was logged.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public bool Has(LogLevel level, string fragment) =>
        Lines.Any(l => l.Level == level && l.Message.Contains(fragment, StringComparison.OrdinalIgnoreCase));

    public string Dump() => string.Join("\n", Lines.Select(l => $"{l.Level} {l.Id.Id}: {l.Message}"));

    private sealed class Logger(CapturingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue((logLevel, eventId, formatter(state, exception)));
    }
}
