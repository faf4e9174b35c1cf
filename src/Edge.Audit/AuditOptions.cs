using Microsoft.Extensions.Options;

namespace Edge.Audit;

/// <summary>Where the audit store keeps its data.</summary>
public enum StorageProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>Configuration of the audit service, section <c>Audit</c>. Every key is validated at start.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    public StorageOptions Storage { get; set; } = new();
    public IngestOptions Ingest { get; set; } = new();
    public RetentionOptions Retention { get; set; } = new();
    public MqttIngestOptions Mqtt { get; set; } = new();
    public HttpOptions Http { get; set; } = new();
}

public sealed class StorageOptions
{
    /// <summary><c>Audit:Storage:Provider</c>: Sqlite (default) or PostgreSql.</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary><c>Audit:Storage:ConnectionString</c>: a Microsoft.Data.Sqlite or Npgsql connection string.</summary>
    public string ConnectionString { get; set; } = "Data Source=edge-audit.db";
}

public sealed class IngestOptions
{
    /// <summary><c>Audit:Ingest:BatchSize</c>: events written per transaction at most (1..10000, default 500).</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary><c>Audit:Ingest:FlushInterval</c>: how long a partial batch may wait (1 ms..10 s, default 100 ms).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary><c>Audit:Ingest:QueueCapacity</c>: decoded messages waiting for the writer (100..1000000, default 20000).</summary>
    public int QueueCapacity { get; set; } = 20_000;

    /// <summary><c>Audit:Ingest:MaxPayloadBytes</c>: larger MQTT payloads are rejected (1 KiB..16 MiB, default 1 MiB).</summary>
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;

    /// <summary><c>Audit:Ingest:Writers</c>: concurrent batch writers (0 = auto: 1 for SQLite, 2 for PostgreSQL; at most 8).</summary>
    public int Writers { get; set; }

    /// <summary><c>Audit:Ingest:RetryDelay</c>: wait before retrying a failed batch write (default 1 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class RetentionOptions
{
    /// <summary><c>Audit:Retention:Events</c>: age after which events (with their heatmaps and crops) are deleted. Default 365 days.</summary>
    public TimeSpan Events { get; set; } = TimeSpan.FromDays(365);

    /// <summary><c>Audit:Retention:Heatmaps</c>: age after which heatmaps are deleted. Default 90 days.</summary>
    public TimeSpan Heatmaps { get; set; } = TimeSpan.FromDays(90);

    /// <summary><c>Audit:Retention:FaceCrops</c>: age after which face crops are deleted. Default 30 days.</summary>
    public TimeSpan FaceCrops { get; set; } = TimeSpan.FromDays(30);

    /// <summary><c>Audit:Retention:RunAt</c>: UTC time of day of the daily job. Default 03:00.</summary>
    public TimeSpan RunAt { get; set; } = TimeSpan.FromHours(3);

    /// <summary><c>Audit:Retention:Enabled</c>: run the daily job (default true).</summary>
    public bool Enabled { get; set; } = true;
}

public sealed class MqttIngestOptions
{
    /// <summary><c>Audit:Mqtt:Enabled</c>: subscribe to the broker (default true).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>Audit:Mqtt:Host</c> (default 127.0.0.1).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary><c>Audit:Mqtt:Port</c> (default 1883).</summary>
    public int Port { get; set; } = 1883;

    /// <summary><c>Audit:Mqtt:Username</c> / <c>Audit:Mqtt:Password</c>: broker credentials (optional).</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary><c>Audit:Mqtt:ClientId</c>: unique and stable per instance, so the broker keeps its session (default edge-audit-{machine name}).</summary>
    public string? ClientId { get; set; }

    /// <summary><c>Audit:Mqtt:SharedGroup</c>: MQTT 5 shared-subscription group; instances in one group split the load.</summary>
    public string SharedGroup { get; set; } = "edge-audit";

    /// <summary>
    /// Every other Edge.Sync transport setting (Protocol, KeepAlive, Tls:*, Reconnect*, ReceiveMaximum, ReceiveBufferCapacity, …)
    /// under <c>Audit:Mqtt:Transport</c>. AckAfterHandled is always on here. ReceiveMaximum (default 1000) bounds the messages
    /// one commit can take, so it bounds throughput: about ReceiveMaximum per (commit time + round trip).
    /// </summary>
    public Edge.Sync.Mqtt.MqttBrokerOptions Transport { get; set; } = new();

    internal Edge.Sync.Mqtt.MqttBrokerOptions ToBrokerOptions()
    {
        var b = Transport;
        b.Host = Host;
        b.Port = Port;
        b.Username = Username;
        b.Password = Password;
        b.ClientId = ClientId ?? $"edge-audit-{Environment.MachineName}";
        b.StatusTopic = null;
        b.AckAfterHandled = true; // the PUBACK follows the commit: a crash of the service loses nothing
        return b;
    }
}

public sealed class HttpOptions
{
    /// <summary><c>Audit:Http:Urls</c>: where the API listens (default http://127.0.0.1:5080; loopback unless told otherwise).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary><c>Audit:Http:MaxRequestBodyBytes</c>: larger request bodies get 413 (1 KiB..8 MiB, default 64 KiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary><c>Audit:Http:MaxPageSize</c>: largest page the list endpoints return (default 500).</summary>
    public int MaxPageSize { get; set; } = 500;
}

/// <summary>Cross-field and range checks; a bad value stops the service at start with a message naming the key.</summary>
internal sealed class AuditOptionsValidator : IValidateOptions<AuditOptions>
{
    public ValidateOptionsResult Validate(string? name, AuditOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Storage.ConnectionString))
        {
            errors.Add("Audit:Storage:ConnectionString must be set.");
        }

        if (!Enum.IsDefined(options.Storage.Provider))
        {
            errors.Add("Audit:Storage:Provider must be Sqlite or PostgreSql.");
        }

        Range(errors, "Audit:Ingest:BatchSize", options.Ingest.BatchSize, 1, 10_000);
        Range(errors, "Audit:Ingest:Writers", options.Ingest.Writers, 0, 8);
        Range(errors, "Audit:Ingest:QueueCapacity", options.Ingest.QueueCapacity, 100, 1_000_000);
        Range(errors, "Audit:Ingest:MaxPayloadBytes", options.Ingest.MaxPayloadBytes, 1024, 16 * 1024 * 1024);
        Range(errors, "Audit:Ingest:FlushInterval", options.Ingest.FlushInterval, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(10));
        Range(errors, "Audit:Ingest:RetryDelay", options.Ingest.RetryDelay, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(5));
        Range(errors, "Audit:Retention:Events", options.Retention.Events, TimeSpan.FromDays(1), TimeSpan.FromDays(36_500));
        Range(errors, "Audit:Retention:Heatmaps", options.Retention.Heatmaps, TimeSpan.FromDays(1), TimeSpan.FromDays(36_500));
        Range(errors, "Audit:Retention:FaceCrops", options.Retention.FaceCrops, TimeSpan.FromDays(1), TimeSpan.FromDays(36_500));
        Range(errors, "Audit:Retention:RunAt", options.Retention.RunAt, TimeSpan.Zero, TimeSpan.FromHours(24) - TimeSpan.FromTicks(1));
        if (options.Retention.Heatmaps > options.Retention.Events)
        {
            errors.Add("Audit:Retention:Heatmaps must not exceed Audit:Retention:Events (heatmaps are deleted with their events).");
        }

        if (options.Retention.FaceCrops > options.Retention.Events)
        {
            errors.Add("Audit:Retention:FaceCrops must not exceed Audit:Retention:Events (crops are deleted with their events).");
        }

        if (options.Mqtt.Enabled)
        {
            if (string.IsNullOrWhiteSpace(options.Mqtt.Host))
            {
                errors.Add("Audit:Mqtt:Host must be set when Audit:Mqtt:Enabled is true.");
            }

            Range(errors, "Audit:Mqtt:Port", options.Mqtt.Port, 1, 65_535);
            if (string.IsNullOrWhiteSpace(options.Mqtt.SharedGroup) || options.Mqtt.SharedGroup.AsSpan().IndexOfAny("/+#") >= 0)
            {
                errors.Add("Audit:Mqtt:SharedGroup must be a non-empty name without '/', '+' or '#'.");
            }

            if (options.Mqtt.Password is not null && options.Mqtt.Username is null)
            {
                errors.Add("Audit:Mqtt:Password is set but Audit:Mqtt:Username is not.");
            }

            errors.AddRange(options.Mqtt.ToBrokerOptions().Validate("Audit:Mqtt:Transport")
                .Where(e => !e.Contains(":Host ", StringComparison.Ordinal) && !e.Contains(":Port ", StringComparison.Ordinal) && !e.Contains("Password is set", StringComparison.Ordinal)));
        }

        if (string.IsNullOrWhiteSpace(options.Http.Urls))
        {
            errors.Add("Audit:Http:Urls must be set.");
        }

        Range(errors, "Audit:Http:MaxRequestBodyBytes", options.Http.MaxRequestBodyBytes, 1024, 8L * 1024 * 1024);
        Range(errors, "Audit:Http:MaxPageSize", options.Http.MaxPageSize, 1, 10_000);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Range<T>(List<string> errors, string key, T value, T min, T max)
        where T : IComparable<T>
    {
        if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
        {
            errors.Add($"{key} must be between {min} and {max} (was {value}).");
        }
    }
}
