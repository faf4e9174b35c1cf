using Edge.Audit.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Hosting;

/// <summary>Deletes events, heatmaps and face crops by age, once a day at Audit:Retention:RunAt (UTC). Roll-ups are kept.</summary>
public sealed class RetentionService(IAuditStore store, IOptions<AuditOptions> options, TimeProvider time, ILogger<RetentionService> logger)
    : BackgroundService
{
    private readonly RetentionOptions _options = options.Value.Retention;

    public static TimeSpan DelayUntilNextRun(DateTimeOffset nowUtc, TimeSpan runAt)
    {
        var today = new DateTimeOffset(nowUtc.UtcDateTime.Date, TimeSpan.Zero) + runAt;
        var next = today > nowUtc ? today : today.AddDays(1);
        return next - nowUtc;
    }

    public RetentionCutoffs CutoffsAt(DateTimeOffset nowUtc) => new(
        (nowUtc - _options.Events).ToUnixTimeMilliseconds(),
        (nowUtc - _options.Heatmaps).ToUnixTimeMilliseconds(),
        (nowUtc - _options.FaceCrops).ToUnixTimeMilliseconds());

    public async Task<RetentionResult> RunOnceAsync(CancellationToken cancellationToken)
    {
        var result = await store.PurgeAsync(CutoffsAt(time.GetUtcNow()), cancellationToken);
        Log.RetentionDone(logger, result.Events, result.Heatmaps, result.FaceCrops);
        return result;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var delay = DelayUntilNextRun(time.GetUtcNow(), _options.RunAt);
            Log.RetentionScheduled(logger, delay);
            await Task.Delay(delay, time, stoppingToken);
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.RetentionFailed(logger, ex);
            }
        }
    }
}

/// <summary>Applies migrations before anything else starts; a failure here fails the host.</summary>
public sealed class StoreInitializer(IAuditStore store, ILogger<StoreInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.MigrateAsync(cancellationToken);
        Log.StoreReady(logger, store.Provider);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
