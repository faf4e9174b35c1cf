using System.Diagnostics;
using Edge.Camera;
using Edge.Explain;
using Edge.Host.Options;
using Microsoft.Extensions.Options;

namespace Edge.Host.Pipeline;

/// <summary>
/// One frame through the stages: analyze (detect + score) → track → flag rules → explain per policy →
/// event → hand-over queue. When every face is explained (<see cref="ExplainMode.All"/>) the analyzer only detects
/// and the first explainer run scores the face too (it runs the same model's forward pass), so no face is scored
/// twice. Single-threaded by design (the pipeline service's loop owns it); reuses its lists.
/// </summary>
public sealed class FacePipeline
{
    private readonly IFaceAnalyzer _analyzer;
    private readonly IFaceExplainer? _explainer;
    private readonly FaceEventFactory _events;
    private readonly PipelineChannels _channels;
    private readonly PipelineMetrics _metrics;
    private readonly PipelineStatus _status;
    private readonly TimeProvider _time;
    private readonly PipelineOptions _options;
    private readonly FaceTracker _tracker;
    private readonly FlagEvaluator _flags;
    private readonly ExplainPolicy _policy;
    private readonly List<FaceResult> _faces = [];
    private readonly List<FaceTracker.Track> _tracks = [];
    private readonly List<int> _targets = [];
    private readonly IFaceObserver[] _observers;

    public FacePipeline(
        IFaceAnalyzer analyzer,
        IEnumerable<IFaceExplainer> explainers,
        FaceEventFactory events,
        PipelineChannels channels,
        PipelineMetrics metrics,
        PipelineStatus status,
        TimeProvider time,
        IOptions<PipelineOptions> options,
        IOptions<FlagOptions> flags,
        IEnumerable<IFaceObserver>? observers = null)
    {
        _observers = observers?.ToArray() ?? [];
        _analyzer = analyzer;
        _explainer = explainers.FirstOrDefault();
        _options = options.Value;
        if (_options.Explain != ExplainMode.None && _explainer is null)
        {
            throw new InvalidOperationException(
                $"Pipeline:Explain is {_options.Explain} but this build has no explainer; set Pipeline:Explain=None or add the explain stage");
        }

        (_events, _channels, _metrics, _status, _time) = (events, channels, metrics, status, time);
        _flags = new FlagEvaluator(flags.Value);
        _tracker = new FaceTracker(_options.TrackIou, _options.TrackTimeout, _flags.RuleCount);
        _policy = new ExplainPolicy(_options);
    }

    public async ValueTask ProcessAsync(Frame frame, CancellationToken cancellationToken)
    {
        if (_time.GetUtcNow() - frame.CaptureTime > _options.MaxFrameAge)
        {
            _metrics.FrameSkipped("stale");
            return;
        }

        var start = Stopwatch.GetTimestamp();
        var explainScores = _explainer is not null && _policy.Mode == ExplainMode.All;
        var count = _analyzer.Analyze(frame.Rgb24, frame.Width, frame.Height, _faces, score: !explainScores);
        _metrics.Stage("analyze", Stopwatch.GetElapsedTime(start));
        _metrics.Faces(count);
        _tracker.Assign(_faces, frame.CaptureTime, _tracks);

        for (var i = 0; i < _faces.Count; i++)
        {
            var face = _faces[i];
            face.ClearHeatmaps();
            var explainStart = Stopwatch.GetTimestamp();
            if (explainScores)
            {
                _explainer!.Explain(frame.Rgb24, frame.Width, frame.Height, face, _policy.FirstTarget, writeScores: true);
            }

            var reason = _flags.Evaluate(face, _tracks[i], frame.CaptureTime);
            if (reason.Length > 0)
            {
                _metrics.Flagged();
            }

            if (_explainer is not null && _policy.ShouldExplain(reason.Length > 0))
            {
                _policy.Targets(face, _targets);
                foreach (var target in _targets)
                {
                    if (!HasHeatmap(face, Expressions.Names[target]))
                    {
                        _explainer.Explain(frame.Rgb24, frame.Width, frame.Height, face, target);
                    }
                }

                _metrics.Stage("explain", Stopwatch.GetElapsedTime(explainStart));
                _metrics.Explained();
            }

            start = Stopwatch.GetTimestamp();
            var faceEvent = _events.Create(frame, face, reason, _analyzer, _explainer);
            _metrics.Stage("event", Stopwatch.GetElapsedTime(start));

            start = Stopwatch.GetTimestamp();
            if (!_channels.Events.Writer.TryWrite(faceEvent))
            {
                await _channels.Events.Writer.WriteAsync(faceEvent, cancellationToken).ConfigureAwait(false);
            }

            _metrics.Stage("enqueue", Stopwatch.GetElapsedTime(start));
            foreach (var observer in _observers)
            {
                observer.Observe(frame.Rgb24, frame.Width, frame.Height, face);
            }
        }

        _metrics.FrameProcessed();
        _status.FrameDone();
    }

    private static bool HasHeatmap(FaceResult face, string targetClass)
    {
        foreach (var h in face.Heatmaps)
        {
            if (h.TargetClass == targetClass)
            {
                return true;
            }
        }

        return false;
    }
}
