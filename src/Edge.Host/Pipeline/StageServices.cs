using Edge.Camera;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Edge.Host.Pipeline;

/// <summary>Runs the frame source into the host-owned frame channel.</summary>
public sealed class CameraService(IFrameSource source, PipelineChannels channels) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        source.RunAsync(channels.Frames.Writer, stoppingToken);
}

/// <summary>Reads frames, runs each through <see cref="FacePipeline"/>, returns every frame to its pool.</summary>
public sealed class PipelineService(
    FacePipeline pipeline, PipelineChannels channels, PipelineStatus status, PipelineMetrics metrics, ILogger<PipelineService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = channels.Frames.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    try
                    {
                        await pipeline.ProcessAsync(frame, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        metrics.Error();
                        status.FrameFailed(e.Message);
                        Log.FrameFailed(logger, frame.Sequence, e.Message, e);
                    }
                    finally
                    {
                        frame.Dispose();
                    }
                }
            }

            Log.PipelineEnded(logger, status.Frames);
        }
        finally
        {
            FrameChannel.Drain(reader);
            channels.Events.Writer.TryComplete();
        }
    }
}

/// <summary>
/// Hands events from the queue to the sync outbox. A refused event is retried (never dropped); at shutdown
/// what is queued gets a short grace period. When a finite source has ended and everything is handed on,
/// stops the service.
/// </summary>
public sealed class PublisherService(
    IFaceEventSink sink,
    PipelineChannels channels,
    PipelineStatus status,
    PipelineMetrics metrics,
    IFrameSource source,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<PublisherService> logger) : BackgroundService
{
    private static readonly TimeSpan s_retryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_shutdownGrace = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = channels.Events.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (reader.TryPeek(out var faceEvent))
                {
                    await HandOnAsync(faceEvent, stoppingToken).ConfigureAwait(false);
                    reader.TryRead(out _);
                }
            }

            status.Complete();
            if (source.Status.State == CameraState.Ended)
            {
                Log.SourceEndedStopping(logger);
                lifetime.StopApplication();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            using var grace = new CancellationTokenSource(s_shutdownGrace, time);
            try
            {
                while (reader.TryPeek(out var faceEvent))
                {
                    await sink.EnqueueAsync(faceEvent, grace.Token).ConfigureAwait(false);
                    reader.TryRead(out _);
                    metrics.Published();
                }
            }
            catch (Exception e) when (e is OperationCanceledException || grace.IsCancellationRequested)
            {
                Log.EventsLeftAtShutdown(logger, reader.Count);
            }
        }
    }

    private async Task HandOnAsync(Edge.Sync.Contract.FaceEvent faceEvent, CancellationToken stoppingToken)
    {
        while (true)
        {
            var start = time.GetTimestamp();
            try
            {
                await sink.EnqueueAsync(faceEvent, stoppingToken).ConfigureAwait(false);
                metrics.Stage("sink", time.GetElapsedTime(start));
                metrics.Published();
                status.Published();
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                status.PublishFailed(e.Message);
                Log.PublishFailed(logger, s_retryDelay.TotalSeconds, e.Message);
                await Task.Delay(s_retryDelay, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }
}
