namespace Edge.Audit.Storage;

/// <summary>Filters shared by the event list, the flagged queue and the CSV export. All values go to SQL as parameters.</summary>
public sealed record EventQuery
{
    public string? Site { get; init; }
    public string? Kiosk { get; init; }
    public long? FromMs { get; init; }
    public long? ToMs { get; init; }
    public bool? Flagged { get; init; }
    public string? TopClass { get; init; }
    public string? ReviewState { get; init; }
    public int Limit { get; init; } = 100;
    public EventCursor? After { get; init; }
}

/// <summary>Keyset position: the last row of the previous page (newest first).</summary>
public sealed record EventCursor(long CapturedAtMs, long Id);

/// <summary>A row of the events table.</summary>
public sealed class EventRow
{
    public long Id { get; set; }
    public string EventId { get; set; } = "";
    public string SiteId { get; set; } = "";
    public string KioskId { get; set; } = "";
    public long CapturedAtMs { get; set; }
    public long ReceivedAtMs { get; set; }
    public string ModelId { get; set; } = "";
    public string ModelSha256 { get; set; } = "";
    public double Angry { get; set; }
    public double Disgust { get; set; }
    public double Fear { get; set; }
    public double Happy { get; set; }
    public double Sad { get; set; }
    public double Surprise { get; set; }
    public double Neutral { get; set; }
    public string TopClass { get; set; } = "";
    public bool Flagged { get; set; }
    public string FlagReason { get; set; } = "";
    public double BoxX1 { get; set; }
    public double BoxY1 { get; set; }
    public double BoxX2 { get; set; }
    public double BoxY2 { get; set; }
    public double DetectorScore { get; set; }
    public long FrameWidth { get; set; }
    public long FrameHeight { get; set; }
    public string ReviewState { get; set; } = "";
}

public sealed class HeatmapRow
{
    public string TargetClass { get; set; } = "";
    public long CodecVersion { get; set; }
    public long Width { get; set; }
    public long Height { get; set; }
    public double Scale { get; set; }
    public byte[] Data { get; set; } = [];
}

public sealed record EventDetailRecord(EventRow Event, IReadOnlyList<HeatmapRow> Heatmaps, byte[]? FaceCropPng, IReadOnlyList<ReviewRow> Reviews);

public sealed class ReviewRow
{
    public long Id { get; set; }
    public string EventId { get; set; } = "";
    public string Action { get; set; } = "";
    public string Comment { get; set; } = "";
    public string Actor { get; set; } = "";
    public long AtMs { get; set; }
}

/// <summary>Review actions and the state each leaves the event in.</summary>
public static class ReviewActions
{
    public static readonly IReadOnlyDictionary<string, string> StateAfter = new Dictionary<string, string>
    {
        ["reviewed"] = "reviewed",
        ["escalate"] = "escalated",
        ["dismiss"] = "dismissed",
    };

    public static readonly string[] States = ["open", "reviewed", "escalated", "dismissed"];
}

public sealed class KioskStatusRow
{
    public string SiteId { get; set; } = "";
    public string KioskId { get; set; } = "";
    public bool Online { get; set; }
    public long StatusTimeMs { get; set; }
    public long LastSeenMs { get; set; }
    public long OutboxPending { get; set; }
    public double OldestPendingAgeSeconds { get; set; }
    public string ModelId { get; set; } = "";
    public string Version { get; set; } = "";
}

public sealed class TokenRow
{
    public long Id { get; set; }
    public string Owner { get; set; } = "";
    public string Role { get; set; } = "";
    public string TokenSha256 { get; set; } = "";
    public long CreatedAtMs { get; set; }
    public long? RevokedAtMs { get; set; }
}

public sealed record SummaryQuery(string? Site, string? Kiosk, long? FromMs, long? ToMs);

public sealed record WriteResult(int Stored, int Duplicates);

public sealed record RetentionResult(long Events, long Heatmaps, long FaceCrops);

public sealed record RetentionCutoffs(long EventsBeforeMs, long HeatmapsBeforeMs, long FaceCropsBeforeMs);
