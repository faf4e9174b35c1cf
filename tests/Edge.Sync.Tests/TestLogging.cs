using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

/// <summary>Logger that writes to the xunit output and keeps every line for assertions.</summary>
internal sealed class TestLoggerProvider(ITestOutputHelper? output) : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Text)> Lines { get; } = new();

    private ITestOutputHelper? Output { get; } = output;

    public ILogger CreateLogger(string categoryName) => new TestLogger(this, categoryName);

    public ILogger<T> CreateLogger<T>() => new Logger<T>(new Factory(this));

    public bool Contains(int eventId) => Lines.Any(l => l.Id.Id == eventId);

    public void Dispose()
    {
    }

    private sealed class Factory(TestLoggerProvider provider) : ILoggerFactory
    {
        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => provider.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class TestLogger(TestLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = formatter(state, exception) + (exception is null ? string.Empty : $" [{exception.GetType().Name}: {exception.Message}]");
            provider.Lines.Enqueue((logLevel, eventId, text));
            try
            {
                provider.Output?.WriteLine($"{logLevel,-11} {eventId.Id} {category.Split('.')[^1]}: {text}");
            }
            catch (InvalidOperationException)
            {
                // output helper used after the test ended
            }
        }
    }
}
