using System.Net.Sockets;
using Edge.Camera;
using Edge.Host.Options;
using Edge.Host.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Systemd;

/// <summary>
/// READY=1 once the host has started (HTTP listening, stages running), STOPPING=1 when it begins to stop,
/// and WATCHDOG=1 every half watchdog period — but only while frames flow through the pipeline (or capture
/// is intentionally idle/ended), so a wedged camera or pipeline gets the service restarted by systemd.
/// Does nothing outside systemd (no $NOTIFY_SOCKET).
/// </summary>
public sealed class SystemdService : BackgroundService
{
    private readonly SystemdNotifier? _notifier;
    private readonly SystemdEnvironment _environment;
    private readonly IFrameSource _source;
    private readonly PipelineStatus _status;
    private readonly SystemdOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SystemdService> _logger;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SystemdService(
        SystemdEnvironment environment,
        IHostApplicationLifetime lifetime,
        IFrameSource source,
        PipelineStatus status,
        IOptions<SystemdOptions> options,
        TimeProvider time,
        ILogger<SystemdService> logger)
    {
        (_environment, _source, _status, _options, _time, _logger) = (environment, source, status, options.Value, time, logger);
        if (environment.NotifySocket is null)
        {
            return;
        }

        _notifier = new SystemdNotifier(environment.NotifySocket);
        lifetime.ApplicationStarted.Register(() =>
        {
            Send("READY=1\nSTATUS=running");
            _started.TrySetResult();
        });
        lifetime.ApplicationStopping.Register(() => Send("STOPPING=1\nSTATUS=stopping"));
    }

    /// <summary>Whether the watchdog may be fed now.</summary>
    public bool FramesFlowing()
    {
        if (_source.Status.State is CameraState.Idle or CameraState.Ended)
        {
            return true;
        }

        return _status.SinceLastFrame is { } since && since <= _options.WatchdogFrameTimeout;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_notifier is null || _environment.WatchdogPeriod is not { } period)
        {
            return;
        }

        await _started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        var interval = period / 2;
        Log.SystemdEnabled(_logger, _notifier.Address, interval.TotalSeconds);
        using var timer = new PeriodicTimer(interval, _time);
        var starving = false;
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (FramesFlowing())
            {
                starving = false;
                Send("WATCHDOG=1");
            }
            else if (!starving)
            {
                starving = true;
                Log.WatchdogStarved(_logger, _status.SinceLastFrame?.TotalSeconds ?? double.PositiveInfinity);
            }
        }
    }

    private void Send(string state)
    {
        try
        {
            _notifier?.Notify(state);
        }
        catch (SocketException e)
        {
            Log.NotifyFailed(_logger, e.Message);
        }
    }

    public override void Dispose()
    {
        _notifier?.Dispose();
        base.Dispose();
    }
}
