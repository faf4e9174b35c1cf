using System.Diagnostics.Metrics;

namespace Edge.Host.Pipeline;

/// <summary>The pipeline's instruments (meter <c>Edge.Pipeline</c>); stage latencies are one histogram tagged by stage.</summary>
public sealed class PipelineMetrics
{
    public const string MeterName = "Edge.Pipeline";

    /// <summary>Bucket bounds in seconds, from 0.5 ms (a cached crop) to 2.5 s (a stuck outbox).</summary>
    public static IReadOnlyList<double> LatencyBuckets { get; } =
        [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly Counter<long> _frames;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _faces;
    private readonly Counter<long> _flagged;
    private readonly Counter<long> _explained;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _published;
    private readonly Histogram<double> _stage;

    public PipelineMetrics(IMeterFactory meterFactory, PipelineChannels channels, IEnumerable<IFaceEventSink> sinks)
    {
        var meter = meterFactory.Create(MeterName);
        _frames = meter.CreateCounter<long>("edge.pipeline.frames", "{frame}", "Frames the pipeline processed");
        _skipped = meter.CreateCounter<long>("edge.pipeline.frames.skipped", "{frame}", "Frames skipped unprocessed, by reason");
        _faces = meter.CreateCounter<long>("edge.pipeline.faces", "{face}", "Faces detected and scored");
        _flagged = meter.CreateCounter<long>("edge.pipeline.faces.flagged", "{face}", "Faces a flag rule fired on");
        _explained = meter.CreateCounter<long>("edge.pipeline.faces.explained", "{face}", "Faces given a heatmap");
        _errors = meter.CreateCounter<long>("edge.pipeline.errors", "{error}", "Frames whose processing failed");
        _published = meter.CreateCounter<long>("edge.events.published", "{event}", "Events handed to the sync outbox");
        _stage = meter.CreateHistogram<double>(
            "edge.pipeline.stage.duration", "s", "Time per stage: analyze (detect+score), explain, event, enqueue, sink",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        var sink = sinks.FirstOrDefault();
        meter.CreateObservableGauge(
            "edge.events.pending",
            () => channels.Events.Reader.Count + Math.Max(0, sink?.Pending ?? 0),
            "{event}",
            "Events waiting: in the hand-over queue plus in the sync outbox");
    }

    public void FrameProcessed() => _frames.Add(1);

    public void FrameSkipped(string reason) => _skipped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Faces(int count) => _faces.Add(count);

    public void Flagged() => _flagged.Add(1);

    public void Explained() => _explained.Add(1);

    public void Error() => _errors.Add(1);

    public void Published() => _published.Add(1);

    public void Stage(string stage, TimeSpan elapsed) =>
        _stage.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("stage", stage));
}
