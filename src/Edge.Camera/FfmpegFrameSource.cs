using System.ComponentModel;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Edge.Camera;

/// <summary>
/// Frames from an ffmpeg child process writing raw rgb24 to stdout. One session = one ffmpeg process;
/// a session that fails (exit, stall, start failure) is retried with exponential backoff; a session that
/// ran for <see cref="CameraOptions.StableAfter"/> resets the backoff. Owns each child process it starts.
/// </summary>
public sealed class FfmpegFrameSource : IFrameSource
{
    private readonly CameraOptions _options;
    private readonly CameraSourceKind _kind;
    private readonly ILogger<FfmpegFrameSource> _logger;
    private readonly TimeProvider _time;
    private readonly CameraMetrics _metrics;
    private readonly ICaptureGate _gate;
    private readonly ICaptureIndicator _indicator;
    private readonly FramePool _pool;
    private readonly ResiliencePipeline<SessionEnd> _restart;
    private readonly StderrLimiter _stderrLimiter;
    private readonly TimeSpan _checkInterval;

    private volatile CameraState _state = CameraState.Starting;
    private volatile string? _lastError;
    private long _frames;
    private long _restarts;
    private long _sequence;
    private long _lastFrameTimestamp;
    private long _lastFrameUtcTicks;
    private long _nextRetryTicks = -1;
    private int _processId;
    private int _consecutiveFailures;
    private long _readerAllocatedBytes;
    private long _readerFrames;

    public FfmpegFrameSource(
        IOptions<CameraOptions> options,
        ILogger<FfmpegFrameSource> logger,
        TimeProvider time,
        CameraMetrics metrics,
        ICaptureGate gate,
        ICaptureIndicator indicator)
    {
        _options = options.Value;
        _kind = SourceKinds.Resolve(_options);
        _logger = logger;
        _time = time;
        _metrics = metrics;
        _gate = gate;
        _indicator = indicator;
        // the channel's frames, the one the reader fills and the one the consumer holds: the steady state allocates nothing
        // even when a slow consumer lets the channel fill up long after start
        _pool = new FramePool(_options.FrameBytes, _options.ChannelCapacity + 6, preallocate: _options.ChannelCapacity + 2);
        _stderrLimiter = new StderrLimiter(time, _options.StderrLogLines, _options.StderrLogWindow);
        _checkInterval = TimeSpan.FromTicks(Math.Min(_options.StallTimeout.Ticks / 4, TimeSpan.FromMilliseconds(250).Ticks));
        _restart = new ResiliencePipelineBuilder<SessionEnd> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<SessionEnd>
            {
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is not null and not OperationCanceledException),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = _options.RestartJitter,
                Delay = _options.RestartDelay,
                MaxDelay = _options.RestartMaxDelay,
                OnRetry = args =>
                {
                    Interlocked.Increment(ref _consecutiveFailures);
                    Interlocked.Increment(ref _restarts);
                    _metrics.Restarted();
                    Interlocked.Exchange(ref _nextRetryTicks, args.RetryDelay.Ticks);
                    _state = CameraState.Backoff;
                    Log.SessionFailed(_logger, args.AttemptNumber + 1, args.RetryDelay.TotalSeconds, args.Outcome.Exception?.Message ?? "");
                    return default;
                },
            })
            .Build();
    }

    public int Width => _options.Width;

    public int Height => _options.Height;

    public CameraStatus Status
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastFrameUtcTicks);
            var retry = Interlocked.Read(ref _nextRetryTicks);
            return new CameraStatus(
                _state,
                Interlocked.Read(ref _frames),
                Interlocked.Read(ref _restarts),
                ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero),
                _lastError,
                retry < 0 ? null : TimeSpan.FromTicks(retry));
        }
    }

    /// <summary>The running ffmpeg's process id, 0 when none (tests kill it to prove recovery).</summary>
    internal int ProcessId => Volatile.Read(ref _processId);

    /// <summary>The frame pool (tests check that it stops allocating).</summary>
    internal FramePool Pool => _pool;

    /// <summary>Bytes allocated so far on the current session's reader thread, and frames it read, for the allocation test.</summary>
    internal (long Frames, long AllocatedBytes) ReaderAllocation =>
        (Interlocked.Read(ref _readerFrames), Interlocked.Read(ref _readerAllocatedBytes));

    public async Task RunAsync(ChannelWriter<Frame> output, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!_gate.IsOpen)
                {
                    _state = CameraState.Idle;
                    Log.Idle(_logger);
                    await _gate.WaitOpenAsync(cancellationToken).ConfigureAwait(false);
                }

                var end = await _restart.ExecuteAsync(
                    static (state, token) => state.Self.RunSessionAsync(state.Output, token),
                    (Self: this, Output: output),
                    cancellationToken).ConfigureAwait(false);

                switch (end)
                {
                    case SessionEnd.EndOfStream:
                        _state = CameraState.Ended;
                        Log.Ended(_logger, Interlocked.Read(ref _frames));
                        return;
                    case SessionEnd.Restart:
                        Interlocked.Increment(ref _restarts);
                        _metrics.Restarted();
                        _state = CameraState.Backoff;
                        Interlocked.Exchange(ref _nextRetryTicks, _options.RestartDelay.Ticks);
                        await Task.Delay(_options.RestartDelay, _time, cancellationToken).ConfigureAwait(false);
                        break;
                    case SessionEnd.Gated:
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
        finally
        {
            if (_state != CameraState.Ended)
            {
                _state = CameraState.Stopped;
            }

            output.TryComplete();
        }
    }

    private async ValueTask<SessionEnd> RunSessionAsync(ChannelWriter<Frame> output, CancellationToken cancellationToken)
    {
        if (!_gate.IsOpen)
        {
            // the gate closed while a retry was waiting: no one is there, do not start the camera
            return SessionEnd.Gated;
        }

        // after a failure the camera stays "Backoff" (unhealthy) until a frame arrives, also while the retry starts
        if (Volatile.Read(ref _consecutiveFailures) == 0)
        {
            _state = CameraState.Starting;
        }

        string? concatList = null;
        if (_kind == CameraSourceKind.Folder)
        {
            concatList = Path.Combine(Path.GetTempPath(), $"edge-camera-{Environment.ProcessId}-{Guid.NewGuid():N}.ffconcat");
            FfmpegArguments.WriteConcatList(_options.Source, _options.Fps, concatList);
        }

        var start = new ProcessStartInfo(_options.FfmpegPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var arg in FfmpegArguments.Build(_options, _kind, concatList))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = new Process { StartInfo = start };
        var tail = new StderrTail();
        string? stopReason = null;
        var gated = false;
        var sessionStarted = _time.GetTimestamp();
        Task<long>? reader = null;
        Task? stderr = null;
        try
        {
            try
            {
                process.Start();
            }
            catch (Win32Exception e)
            {
                throw new CameraSessionException($"cannot start ffmpeg '{_options.FfmpegPath}': {e.Message} (set Camera:FfmpegPath)", e);
            }

            Volatile.Write(ref _processId, process.Id);
            Volatile.Write(ref _lastFrameTimestamp, sessionStarted);
            Log.SessionStarting(_logger, process.Id, _kind, _options.Source);
            _indicator.SetCapturing(true);
            stderr = PumpStderrAsync(process.StandardError, tail);
            var stdout = process.StandardOutput.BaseStream;
            reader = Task.Factory.StartNew(
                () => ReadFrames(stdout, output), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            while (!reader.IsCompleted)
            {
                await Task.WhenAny(reader, Task.Delay(_checkInterval, _time, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (reader.IsCompleted)
                {
                    break;
                }

                if (!_gate.IsOpen)
                {
                    gated = true;
                    break;
                }

                var sinceFrame = _time.GetElapsedTime(Volatile.Read(ref _lastFrameTimestamp));
                if (sinceFrame > _options.StallTimeout)
                {
                    stopReason = $"stalled: no frame for {sinceFrame.TotalSeconds:0.0} s (Camera:StallTimeout {_options.StallTimeout.TotalSeconds:0.###} s)";
                    break;
                }
            }
        }
        finally
        {
            Kill(process);
            if (reader is not null)
            {
                await ((Task)reader).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (stderr is not null)
            {
                await stderr.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            Volatile.Write(ref _processId, 0);
            _indicator.SetCapturing(false);
            if (concatList is not null)
            {
                File.Delete(concatList);
            }
        }

        var sessionFrames = await reader.ConfigureAwait(false);
        var exitCode = process.HasExited ? process.ExitCode : -1;
        if (gated)
        {
            Log.Gated(_logger, sessionFrames);
            return SessionEnd.Gated;
        }

        if (stopReason is null)
        {
            if (exitCode == 0 && sessionFrames > 0 && SourceKinds.IsFinite(_kind, _options.Loop))
            {
                return SessionEnd.EndOfStream;
            }

            stopReason = sessionFrames == 0
                ? $"ffmpeg exited with code {exitCode} before the first frame"
                : $"ffmpeg exited with code {exitCode} after {sessionFrames} frames";
        }

        var error = $"{stopReason}; source '{_options.Source}'; ffmpeg said: {tail.Text ?? "(nothing)"}";
        _lastError = error;
        if (sessionFrames > 0 && _time.GetElapsedTime(sessionStarted) >= _options.StableAfter)
        {
            Log.SessionEndedAfterStableRun(_logger, error);
            return SessionEnd.Restart;
        }

        throw new CameraSessionException(error);
    }

    /// <summary>Runs on its own thread: reads whole frames into pooled buffers until EOF. No allocation per frame.</summary>
    private long ReadFrames(Stream stdout, ChannelWriter<Frame> output)
    {
        var bytes = _options.FrameBytes;
        long count = 0;
        Interlocked.Exchange(ref _readerFrames, 0);
        while (true)
        {
            var frame = _pool.Rent();
            bool complete;
            try
            {
                complete = FillExactly(stdout, frame.Buffer.AsSpan(0, bytes));
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                complete = false;
            }

            if (!complete)
            {
                frame.Dispose();
                return count;
            }

            var now = _time.GetUtcNow();
            frame.Stamp(_options.Width, _options.Height, Interlocked.Increment(ref _sequence) - 1, now);
            Volatile.Write(ref _lastFrameTimestamp, _time.GetTimestamp());
            Interlocked.Exchange(ref _lastFrameUtcTicks, now.UtcTicks);
            if (_state != CameraState.Streaming)
            {
                _state = CameraState.Streaming;
                Interlocked.Exchange(ref _nextRetryTicks, -1);
                Interlocked.Exchange(ref _consecutiveFailures, 0);
            }

            Interlocked.Increment(ref _frames);
            _metrics.FrameRead();
            if (!output.TryWrite(frame))
            {
                frame.Dispose();
                return count;
            }

            count++;
            Interlocked.Exchange(ref _readerAllocatedBytes, GC.GetAllocatedBytesForCurrentThread());
            Interlocked.Increment(ref _readerFrames);
        }
    }

    private static bool FillExactly(Stream stream, Span<byte> buffer)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = stream.Read(buffer[filled..]);
            if (n == 0)
            {
                return false;
            }

            filled += n;
        }

        return true;
    }

    private async Task PumpStderrAsync(StreamReader stderr, StderrTail tail)
    {
        try
        {
            while (await stderr.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                tail.Add(line);
                if (_stderrLimiter.TryAcquire(out var suppressed))
                {
                    if (suppressed > 0)
                    {
                        Log.StderrSuppressed(_logger, suppressed);
                    }

                    Log.FfmpegStderr(_logger, line);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // the process is gone
        }
    }

    private void Kill(Process process)
    {
        try
        {
            if (process.HasExited)
            {
                return;
            }

            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            Log.KillFailed(_logger, e.Message);
        }
    }

    private enum SessionEnd
    {
        EndOfStream,
        Restart,
        Gated,
    }

    /// <summary>The last few stderr lines, for the error message when a session fails.</summary>
    private sealed class StderrTail
    {
        private const int Keep = 3;
        private readonly Queue<string> _lines = new(Keep);
        private readonly Lock _gate = new();

        public string? Text
        {
            get
            {
                lock (_gate)
                {
                    return _lines.Count == 0 ? null : string.Join(" | ", _lines);
                }
            }
        }

        public void Add(string line)
        {
            lock (_gate)
            {
                if (_lines.Count == Keep)
                {
                    _lines.Dequeue();
                }

                _lines.Enqueue(line.Length > 300 ? line[..300] : line);
            }
        }
    }
}

/// <summary>One ffmpeg session failed (start failure, exit, stall); the message says which and what ffmpeg said.</summary>
public sealed class CameraSessionException : Exception
{
    public CameraSessionException(string message) : base(message) { }

    public CameraSessionException(string message, Exception inner) : base(message, inner) { }

    public CameraSessionException() { }
}
