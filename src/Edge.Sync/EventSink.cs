using Edge.Sync.Contract;
using Edge.Sync.Outbox;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Sync;

/// <summary>Where producers hand scored faces. The event is durable in the outbox when the call returns.</summary>
public interface IEventSink
{
    /// <summary>
    /// Fills what the kiosk knows (schema version, event id if empty, site and kiosk ids if empty), validates, serialises
    /// and commits the event to the outbox; returns its event id. Throws <see cref="EventRefusedException"/> (counted in
    /// <c>edge.sync.events.refused</c>) when the event is invalid, too large, or the outbox cannot take it.
    /// </summary>
    ValueTask<string> EnqueueAsync(FaceEvent faceEvent, CancellationToken cancellationToken);
}

/// <summary><see cref="IEventSink"/> over the SQLite outbox.</summary>
public sealed class OutboxEventSink(SqliteOutbox outbox, IOptions<EdgeSyncOptions> options, Uuid7Generator ids, SyncMetrics metrics, ILogger<OutboxEventSink> logger) : IEventSink
{
    private readonly EdgeSyncOptions _options = options.Value;
    private readonly string _topic = EdgeTopics.Events(options.Value.SiteId, options.Value.KioskId);

    /// <inheritdoc />
    public async ValueTask<string> EnqueueAsync(FaceEvent faceEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(faceEvent);
        if (faceEvent.SchemaVersion == 0)
        {
            faceEvent.SchemaVersion = FaceEventContract.SchemaVersion;
        }

        if (faceEvent.EventId.Length == 0)
        {
            faceEvent.EventId = ids.NewId();
        }

        if (faceEvent.SiteId.Length == 0)
        {
            faceEvent.SiteId = _options.SiteId;
        }

        if (faceEvent.KioskId.Length == 0)
        {
            faceEvent.KioskId = _options.KioskId;
        }

        var problems = FaceEventContract.Validate(faceEvent);
        if (faceEvent.SiteId != _options.SiteId || faceEvent.KioskId != _options.KioskId)
        {
            problems = [.. problems, $"site/kiosk '{faceEvent.SiteId}/{faceEvent.KioskId}' is not this kiosk ('{_options.SiteId}/{_options.KioskId}')"];
        }

        if (problems.Count > 0)
        {
            var text = string.Join("; ", problems);
            metrics.Refused("invalid");
            Log.EventInvalid(logger, faceEvent.EventId, text);
            throw new EventRefusedException(EventRefusal.Invalid, $"event {faceEvent.EventId} refused: {text}");
        }

        var payload = faceEvent.ToByteArray();
        await outbox.EnqueueAsync(faceEvent.EventId, _topic, payload, cancellationToken).ConfigureAwait(false);
        return faceEvent.EventId;
    }
}
