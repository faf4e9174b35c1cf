using System.Reflection;
using Google.Protobuf;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Edge.Sync.Outbox;
using Microsoft.Extensions.Options;

namespace Edge.Sync;

/// <summary>Configuration of Edge.Sync, bound from the <c>Sync</c> section (see README for every key).</summary>
public sealed class EdgeSyncOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Sync";

    /// <summary>Site id (topic level, <see cref="EdgeIds.Rule"/>). Required.</summary>
    public string SiteId { get; set; } = string.Empty;

    /// <summary>Kiosk id (topic level, <see cref="EdgeIds.Rule"/>). Required.</summary>
    public string KioskId { get; set; } = string.Empty;

    /// <summary>The broker connection. ClientId defaults to <c>edge-{SiteId}-{KioskId}</c>; StatusTopic is always the kiosk's status topic.</summary>
    public MqttBrokerOptions Broker { get; set; } = new();

    /// <summary>The outbox.</summary>
    public OutboxOptions Outbox { get; set; } = new();

    /// <summary>Events read from the outbox per query, 1-10000. Default 500.</summary>
    public int PublishBatchSize { get; set; } = 500;

    /// <summary>Pause after a broker refusal that may pass (quota exceeded, server busy), 100 ms to 10 min. Default 5 s.</summary>
    public TimeSpan RefusalBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The broker options with the kiosk defaults filled in: client id, status topic, and the status payload — a
    /// <see cref="KioskStatus"/> with this kiosk's ids, the time from <paramref name="time"/> and the outbox backlog from
    /// <paramref name="health"/>. The offline one is the Last Will, built at connect time, so its time is the connect time.
    /// </summary>
    internal MqttBrokerOptions EffectiveBroker(TimeProvider time, SyncHealth? health)
    {
        Broker.ClientId ??= $"edge-{SiteId}-{KioskId}";
        Broker.StatusTopic = EdgeTopics.Status(SiteId, KioskId);
        var (site, kiosk) = (SiteId, KioskId);
        Broker.StatusPayload = online => KioskStatusPayload(site, kiosk, online, time, health?.Current);
        return Broker;
    }

    /// <summary>The <see cref="KioskStatus"/> bytes for the status topic (schema version 1).</summary>
    internal static byte[] KioskStatusPayload(string siteId, string kioskId, bool online, TimeProvider time, SyncHealthSnapshot? health)
    {
        var status = new KioskStatus
        {
            SchemaVersion = FaceEventContract.SchemaVersion,
            SiteId = siteId,
            KioskId = kioskId,
            Online = online,
            TimeUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            Version = SoftwareVersion,
        };
        if (health is not null && health.UpdatedAt != DateTimeOffset.MinValue)
        {
            status.OutboxPending = health.PendingCount;
            status.OldestPendingAgeSeconds = Math.Max(0, health.OldestPendingAge.TotalSeconds);
        }

        return status.ToByteArray();
    }

    /// <summary>Edge.Sync's informational version (the product build), without the source-revision suffix.</summary>
    private static readonly string SoftwareVersion =
        (typeof(EdgeSyncOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? string.Empty).Split('+')[0];
}

/// <summary>Every rule on <see cref="EdgeSyncOptions"/>, with messages that name the configuration key.</summary>
internal sealed class EdgeSyncOptionsValidator : IValidateOptions<EdgeSyncOptions>
{
    public ValidateOptionsResult Validate(string? name, EdgeSyncOptions options)
    {
        var prefix = EdgeSyncOptions.SectionName;
        var errors = new List<string>();
        if (!EdgeIds.IsValid(options.SiteId))
        {
            errors.Add($"{prefix}:SiteId '{options.SiteId}' is not valid: {EdgeIds.Rule}.");
        }

        if (!EdgeIds.IsValid(options.KioskId))
        {
            errors.Add($"{prefix}:KioskId '{options.KioskId}' is not valid: {EdgeIds.Rule}.");
        }

        errors.AddRange(options.Broker.Validate($"{prefix}:Broker"));
        errors.AddRange(options.Outbox.Validate($"{prefix}:Outbox"));
        if (options.PublishBatchSize is < 1 or > 10_000)
        {
            errors.Add($"{prefix}:PublishBatchSize is {options.PublishBatchSize}; it must be between 1 and 10000.");
        }

        if (options.RefusalBackoff < TimeSpan.FromMilliseconds(100) || options.RefusalBackoff > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{prefix}:RefusalBackoff is {options.RefusalBackoff}; it must be between 00:00:00.1 and 00:10:00.");
        }

        if (options.Outbox.MaxEventBytes > 256 * 1024 * 1024)
        {
            errors.Add($"{prefix}:Outbox:MaxEventBytes is above the MQTT packet limit.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
