using Google.Protobuf;

namespace Edge.Sync.Contract;

/// <summary>
/// One place for the rules of the <see cref="FaceEvent"/> wire format: the schema version, validation,
/// binary and JSON encodings. Readers must accept unknown fields (protobuf does by default) and any
/// <c>schema_version</c> ≤ <see cref="SchemaVersion"/>; see the evolution rule in the README.
/// </summary>
public static class FaceEventContract
{
    /// <summary>The schema version this code writes (also in the topic as <c>v1</c>).</summary>
    public const uint SchemaVersion = 1;

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    /// <summary>The expression names in the model's output order (angry … neutral).</summary>
    public static IReadOnlyList<string> ExpressionNames { get; } = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

    /// <summary>Problems that make an event unfit to publish; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(FaceEvent faceEvent)
    {
        ArgumentNullException.ThrowIfNull(faceEvent);
        var problems = new List<string>();
        if (faceEvent.SchemaVersion is 0 or > SchemaVersion)
        {
            problems.Add($"schema_version {faceEvent.SchemaVersion} is not in 1..{SchemaVersion}");
        }

        if (!Guid.TryParseExact(faceEvent.EventId, "D", out _))
        {
            problems.Add($"event_id '{faceEvent.EventId}' is not a UUID in text form");
        }

        if (!EdgeIds.IsValid(faceEvent.SiteId))
        {
            problems.Add($"site_id '{faceEvent.SiteId}' is not valid: {EdgeIds.Rule}");
        }

        if (!EdgeIds.IsValid(faceEvent.KioskId))
        {
            problems.Add($"kiosk_id '{faceEvent.KioskId}' is not valid: {EdgeIds.Rule}");
        }

        if (faceEvent.CaptureTimeUnixMs <= 0)
        {
            problems.Add("capture_time_unix_ms must be set");
        }

        if (faceEvent.Scores is { } s)
        {
            float[] all = [s.Angry, s.Disgust, s.Fear, s.Happy, s.Sad, s.Surprise, s.Neutral];
            if (all.Any(p => !float.IsFinite(p) || p < 0f || p > 1f))
            {
                problems.Add("scores must be probabilities in [0, 1]");
            }
        }

        if (faceEvent.Flagged && string.IsNullOrWhiteSpace(faceEvent.FlagReason))
        {
            problems.Add("a flagged event needs flag_reason");
        }

        return problems;
    }

    /// <summary>The compact binary form published on the events topic.</summary>
    public static byte[] ToBytes(FaceEvent faceEvent) => faceEvent.ToByteArray();

    /// <summary>Reads the binary form; unknown fields (from newer writers) are kept, not rejected.</summary>
    public static FaceEvent FromBytes(ReadOnlySpan<byte> payload) => FaceEvent.Parser.ParseFrom(payload);

    /// <summary>The JSON rendering for humans and tools (proto3 JSON mapping: lowerCamelCase, int64 as strings, bytes as base64).</summary>
    public static string ToJson(IMessage message) => Formatter.Format(message);

    /// <summary>Parses the JSON rendering; unknown fields are ignored so older tools read newer JSON.</summary>
    public static FaceEvent FaceEventFromJson(string json) => Parser.Parse<FaceEvent>(json);
}
