using Edge.Audit.Ingest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Tests;

public sealed class IngestPipelineTests
{
    private sealed class CountingLogger : ILogger<IngestPipeline>
    {
        public int Warnings;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Interlocked.Increment(ref Warnings);
            }
        }
    }

    [Fact]
    public async Task SubmitAsync_FloodOfGarbage_EveryRejectCountedButLogThrottled()
    {
        var logger = new CountingLogger();
        using var stats = new IngestStats();
        var pipeline = new IngestPipeline(Options.Create(new AuditOptions()), stats, TimeProvider.System, logger);
        var started = TimeProvider.System.GetTimestamp();

        for (var i = 0; i < 2000; i++)
        {
            await pipeline.SubmitAsync("edge/v1/a/b/events", new byte[] { 0xFF, 0xFF, 0xFF }, CancellationToken.None);
        }

        var seconds = Math.Ceiling(TimeProvider.System.GetElapsedTime(started).TotalSeconds) + 1;
        Assert.Equal(2000, stats.RejectedCount(RejectReason.Malformed));
        Assert.InRange(logger.Warnings, 1, 20 * seconds);
    }
}
