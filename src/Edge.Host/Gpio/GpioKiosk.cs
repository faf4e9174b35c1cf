using Edge.Camera;
using Edge.Host.Options;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Gpio;

/// <summary>
/// The presence sensor as a capture gate: open while the sensor sees someone and for Gpio:PresenceHold after.
/// Polls the line every Gpio:PollInterval (a PIR changes slowly; polling keeps the native surface small).
/// </summary>
public sealed class GpioPresenceGate : BackgroundService, ICaptureGate
{
    private readonly IGpioLine _line;
    private readonly GpioOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<GpioPresenceGate> _logger;
    private readonly Lock _gate = new();
    private TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTimeOffset? _lastSeen;
    private bool _present;

    public GpioPresenceGate(IGpioDriver driver, IOptions<GpioOptions> options, TimeProvider time, ILogger<GpioPresenceGate> logger)
    {
        (_options, _time, _logger) = (options.Value, time, logger);
        _line = driver.OpenInput(_options.Chip, _options.PresenceLine, "edge-presence");
    }

    public bool IsOpen
    {
        get
        {
            lock (_gate)
            {
                return _open.Task.IsCompleted;
            }
        }
    }

    public Task WaitOpenAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _open.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>One reading of the sensor; opens or closes the gate.</summary>
    public void Poll()
    {
        var now = _time.GetUtcNow();
        var present = (_line.Read() == 1) == _options.PresenceActiveHigh;
        if (present)
        {
            _lastSeen = now;
        }

        if (present != _present)
        {
            _present = present;
            Log.Presence(_logger, present);
        }

        var open = _lastSeen is { } seen && now - seen <= _options.PresenceHold;
        lock (_gate)
        {
            if (open && !_open.Task.IsCompleted)
            {
                _open.TrySetResult();
            }
            else if (!open && _open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.PollInterval, _time);
        do
        {
            try
            {
                Poll();
            }
            catch (GpioException e)
            {
                Log.GpioError(_logger, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public override void Dispose()
    {
        _line.Dispose();
        base.Dispose();
    }
}

/// <summary>The capture LED: lit while ffmpeg runs.</summary>
public sealed class GpioCaptureLed : ICaptureIndicator, IDisposable
{
    private readonly IGpioLine _line;
    private readonly bool _activeHigh;
    private readonly ILogger<GpioCaptureLed> _logger;

    public GpioCaptureLed(IGpioDriver driver, IOptions<GpioOptions> options, ILogger<GpioCaptureLed> logger)
    {
        _activeHigh = options.Value.LedActiveHigh;
        _logger = logger;
        _line = driver.OpenOutput(options.Value.Chip, options.Value.LedLine, "edge-capture-led", _activeHigh ? 0 : 1);
    }

    public void SetCapturing(bool capturing)
    {
        try
        {
            _line.Write(capturing == _activeHigh ? 1 : 0);
        }
        catch (GpioException e)
        {
            Log.GpioError(_logger, e.Message);
        }
    }

    public void Dispose()
    {
        SetCapturing(false);
        _line.Dispose();
    }
}
