namespace Edge.Audit.Ingest;

/// <summary>Why a message was not stored. Each value is a counter and a log line.</summary>
public enum RejectReason
{
    PayloadTooLarge,
    Malformed,
    UnknownTopic,
    UnknownSchemaVersion,
    TopicMismatch,
    InvalidField,
    InvalidHeatmap,
    InvalidFaceCrop,
    Duplicate,
}

/// <summary>One heatmap as stored: the wire fields, kept compressed.</summary>
public sealed record HeatmapRecord(string TargetClass, int CodecVersion, int Width, int Height, float Scale, byte[] Data);

/// <summary>A validated face event ready for the store.</summary>
public sealed record IncomingEvent(
    string EventId,
    string SiteId,
    string KioskId,
    long CapturedAtMs,
    long ReceivedAtMs,
    string ModelId,
    string ModelSha256,
    float[] Scores,
    bool Flagged,
    string FlagReason,
    float BoxX1,
    float BoxY1,
    float BoxX2,
    float BoxY2,
    float DetectorScore,
    int FrameWidth,
    int FrameHeight,
    IReadOnlyList<HeatmapRecord> Heatmaps,
    byte[]? FaceCropPng)
{
    /// <summary>Index into <see cref="ExpressionClasses.Names"/> of the highest score.</summary>
    public int TopClass
    {
        get
        {
            var best = 0;
            for (var i = 1; i < Scores.Length; i++)
            {
                if (Scores[i] > Scores[best])
                {
                    best = i;
                }
            }

            return best;
        }
    }
}

/// <summary>A validated kiosk status message.</summary>
public sealed record IncomingStatus(
    string SiteId,
    string KioskId,
    bool Online,
    long StatusTimeMs,
    long ReceivedAtMs,
    long OutboxPending,
    double OldestPendingAgeSeconds,
    string ModelId,
    string Version);

/// <summary>The seven expression classes in wire order.</summary>
public static class ExpressionClasses
{
    public static readonly string[] Names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

    public const int Count = 7;

    public static int IndexOf(string name) => Array.IndexOf(Names, name);
}

/// <summary>What the decoder made of one MQTT message.</summary>
public readonly record struct DecodeResult(IncomingEvent? Event, IncomingStatus? Status, RejectReason? Reason, string? Detail)
{
    public bool Accepted => Reason is null;

    public static DecodeResult Reject(RejectReason reason, string detail) => new(null, null, reason, detail);
}
