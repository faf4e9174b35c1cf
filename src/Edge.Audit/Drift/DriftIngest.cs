using System.Text.Json;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Edge.Audit.Drift;

/// <summary>
/// Takes the kiosks' retained drift statuses (<c>edge/v1/{site}/{kiosk}/drift</c>, <see cref="DriftStatus"/>), checks
/// that the payload names the kiosk of its topic, and keeps the newest per kiosk in <see cref="KioskDriftStore"/>.
/// A bad message is logged and dropped; it never stops the subscription.
/// </summary>
public sealed class DriftIngest(KioskDriftStore store, TimeProvider time, ILogger<DriftIngest> logger)
{
    public static readonly string Filter = EdgeTopics.AllKiosks(EdgeTopics.DriftKind);

    private static readonly HashSet<string> Levels = new(StringComparer.Ordinal) { "insufficient", "ok", "warn", "alert" };

    public async ValueTask HandleAsync(MqttMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var row = Decode(message.Topic, message.Payload.Span, time.GetUtcNow().ToUnixTimeMilliseconds(), out var problem);
        if (row is null)
        {
            Log.DriftRejected(logger, message.Topic.Length > 200 ? message.Topic[..200] : message.Topic, problem);
            return;
        }

        await store.UpsertAsync(row, cancellationToken);
    }

    /// <summary>The stored row of a drift message, or null with the reason.</summary>
    public static KioskDriftRow? Decode(string topic, ReadOnlySpan<byte> payload, long receivedUnixMs, out string problem)
    {
        if (!EdgeTopics.TryParse(topic, out var site, out var kiosk, out var kind) || kind != EdgeTopics.DriftKind)
        {
            problem = "not an edge/v1/{site}/{kiosk}/drift topic";
            return null;
        }

        if (payload.Length == 0)
        {
            problem = "empty payload (cleared retained message)";
            return null;
        }

        DriftStatus s;
        try
        {
            s = DriftStatus.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            problem = "not a DriftStatus: " + e.Message;
            return null;
        }

        if (s.SiteId != site || s.KioskId != kiosk)
        {
            problem = $"payload names {s.SiteId}/{s.KioskId}, topic {site}/{kiosk}";
            return null;
        }

        if (s.SchemaVersion != 1 || !Levels.Contains(s.Level) || s.TimeUnixMs <= 0 || s.Signals.Any(x => !double.IsFinite(x.Psi) || x.Psi < 0))
        {
            problem = "fields out of range (schema, level, time or PSI)";
            return null;
        }

        var worst = s.Signals.OrderByDescending(x => x.Psi).FirstOrDefault();
        var signals = JsonSerializer.Serialize(s.Signals.ToDictionary(x => x.Name, x => Math.Round(x.Psi, 4)), DriftApiJsonContext.Default.DictionaryStringDouble);
        problem = string.Empty;
        return new KioskDriftRow(site, kiosk, s.TimeUnixMs, receivedUnixMs, s.Level, s.WindowFaces, worst?.Name ?? string.Empty, worst?.Psi ?? 0,
            s.OcclusionChecks, s.OcclusionDisagreements, s.OcclusionDisagreementShare, s.ModelSha256, signals);
    }
}
