using Edge.Sync.Mqtt;

namespace Edge.Sync;

/// <summary>Overall state of delivery, for <c>/healthz</c>.</summary>
public enum SyncHealthStatus
{
    /// <summary>Connected and draining.</summary>
    Healthy,

    /// <summary>Working but behind: disconnected for now, or events waiting longer than a minute, or events dropped recently.</summary>
    Degraded,

    /// <summary>Needs a person: credentials or TLS refused, circuit open, or the outbox cannot write (disk full).</summary>
    Unhealthy,
}

/// <summary>One reading of the delivery state; every field is cheap to read.</summary>
public sealed record SyncHealthSnapshot(
    SyncHealthStatus Status,
    string Description,
    MqttConnectionState Connection,
    MqttTransportError? LastTransportError,
    string? LastOutboxError,
    long PendingCount,
    long PendingBytes,
    TimeSpan OldestPendingAge,
    long Enqueued,
    long Published,
    long Refused,
    long Dropped,
    long DeadLettered,
    long Reconnects,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The state before anything ran.</summary>
    public static SyncHealthSnapshot Initial { get; } = new(
        SyncHealthStatus.Degraded, "starting", MqttConnectionState.Disconnected, null, null, 0, 0, TimeSpan.Zero, 0, 0, 0, 0, 0, 0, DateTimeOffset.MinValue);
}

/// <summary>The delivery health the host reads (<see cref="Current"/>); the publisher service refreshes it about once a second.</summary>
public sealed class SyncHealth
{
    private volatile SyncHealthSnapshot _current = SyncHealthSnapshot.Initial;

    /// <summary>The latest snapshot.</summary>
    public SyncHealthSnapshot Current => _current;

    internal void Update(SyncHealthSnapshot snapshot) => _current = snapshot;

    /// <summary>The rule that turns raw facts into a status and a one-line description.</summary>
    internal static (SyncHealthStatus Status, string Description) Classify(
        MqttConnectionState connection, MqttTransportError? transportError, string? outboxError, TimeSpan oldestAge, bool recentDrops)
    {
        if (outboxError is not null)
        {
            return (SyncHealthStatus.Unhealthy, $"outbox cannot write: {outboxError}");
        }

        if (connection != MqttConnectionState.Connected && transportError is { Kind: MqttErrorKind.NotAuthorized or MqttErrorKind.Tls })
        {
            return (SyncHealthStatus.Unhealthy, $"broker refused us ({transportError.Kind}): {transportError.Message}");
        }

        if (connection == MqttConnectionState.CircuitOpen)
        {
            return (SyncHealthStatus.Unhealthy, $"circuit open after repeated connect failures: {transportError?.Message}");
        }

        if (connection != MqttConnectionState.Connected)
        {
            return (SyncHealthStatus.Degraded, $"not connected ({connection}); events stay queued: {transportError?.Message}");
        }

        if (oldestAge > TimeSpan.FromMinutes(1))
        {
            return (SyncHealthStatus.Degraded, $"connected, catching up: oldest pending event is {oldestAge:g} old");
        }

        return recentDrops
            ? (SyncHealthStatus.Degraded, "connected; events were dropped or refused in the last minute")
            : (SyncHealthStatus.Healthy, "connected and draining");
    }
}
