using Edge.Camera;
using Edge.Explain;
using Edge.Host.Options;
using Edge.Sync.Contract;
using Microsoft.Extensions.Options;
using WireExpressions = Edge.Sync.Contract.Expressions;

namespace Edge.Host.Pipeline;

/// <summary>Builds the wire event for one scored face (ARCHITECTURE.md "Messages").</summary>
public sealed class FaceEventFactory(IOptions<KioskOptions> kiosk)
{
    public const uint SchemaVersion = 1;

    private readonly KioskOptions _kiosk = kiosk.Value;

    public FaceEvent Create(Frame frame, FaceResult face, string flagReason, IFaceAnalyzer analyzer, IFaceExplainer? explainer)
    {
        var s = face.Scores;
        var e = new FaceEvent
        {
            SchemaVersion = SchemaVersion,
            // UUID v7: time-ordered by capture time, so the outbox and the audit store index stay append-mostly
            EventId = Guid.CreateVersion7(frame.CaptureTime).ToString(),
            SiteId = _kiosk.SiteId,
            KioskId = _kiosk.KioskId,
            CaptureTimeUnixMs = frame.CaptureTime.ToUnixTimeMilliseconds(),
            ModelId = analyzer.ModelId,
            ModelSha256 = analyzer.ModelSha256,
            Scores = new WireExpressions
            {
                Angry = s[0],
                Disgust = s[1],
                Fear = s[2],
                Happy = s[3],
                Sad = s[4],
                Surprise = s[5],
                Neutral = s[6],
            },
            Flagged = flagReason.Length > 0,
            FlagReason = flagReason,
            FaceBox = new Box { X1 = face.Box.X1, Y1 = face.Box.Y1, X2 = face.Box.X2, Y2 = face.Box.Y2 },
            DetectorScore = face.DetectorScore,
            FrameWidth = (uint)frame.Width,
            FrameHeight = (uint)frame.Height,
        };

        if (explainer is not null)
        {
            foreach (var heatmap in face.Heatmaps)
            {
                e.Heatmaps.Add(explainer.Encode(heatmap));
            }
        }

        return e;
    }
}
