using System.Threading.Channels;
using Edge.Camera;
using Edge.Host.Options;
using Edge.Sync.Contract;
using Microsoft.Extensions.Options;

namespace Edge.Host.Pipeline;

/// <summary>
/// The host owns the channels between stages: camera → pipeline (bounded, drops the oldest frame, counted)
/// and pipeline → sync (bounded, waits: events are never dropped; the wait shows up as camera drops).
/// </summary>
public sealed class PipelineChannels
{
    public PipelineChannels(IOptions<CameraOptions> camera, IOptions<PipelineOptions> pipeline, CameraMetrics metrics)
    {
        Frames = FrameChannel.CreateBounded(camera.Value.ChannelCapacity, metrics);
        Events = Channel.CreateBounded<FaceEvent>(new BoundedChannelOptions(pipeline.Value.EventQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
    }

    public Channel<Frame> Frames { get; }

    public Channel<FaceEvent> Events { get; }
}
