namespace Edge.Sync.Contract;

/// <summary>
/// The topic layout of the Edge wire contract, schema version 1: <c>edge/v1/{site}/{kiosk}/{kind}</c>.
/// The schema version sits in the topic so that a breaking change can run beside the old one.
/// </summary>
public static class EdgeTopics
{
    /// <summary>The topic prefix every Edge topic starts with.</summary>
    public const string Root = "edge/v1";

    /// <summary>Topic kind for <see cref="FaceEvent"/> messages (QoS 1, not retained).</summary>
    public const string EventsKind = "events";

    /// <summary>Topic kind for the retained availability message (<c>online</c>/<c>offline</c>, also the Last Will).</summary>
    public const string StatusKind = "status";

    /// <summary>Topic kind for model-drift reports (owned by the kiosk pipeline).</summary>
    public const string DriftKind = "drift";

    /// <summary>
    /// The text status payload after every connect, used by a transport whose <see cref="Mqtt.MqttBrokerOptions.StatusPayload"/>
    /// is null. A kiosk configured by <c>AddEdgeSync</c> publishes a <see cref="KioskStatus"/> instead.
    /// </summary>
    public const string OnlinePayload = "online";

    /// <summary>The text Last Will of a transport whose <see cref="Mqtt.MqttBrokerOptions.StatusPayload"/> is null.</summary>
    public const string OfflinePayload = "offline";

    /// <summary><c>edge/v1/{site}/{kiosk}/events</c>.</summary>
    public static string Events(string siteId, string kioskId) => Build(siteId, kioskId, EventsKind);

    /// <summary><c>edge/v1/{site}/{kiosk}/status</c>.</summary>
    public static string Status(string siteId, string kioskId) => Build(siteId, kioskId, StatusKind);

    /// <summary><c>edge/v1/{site}/{kiosk}/drift</c>.</summary>
    public static string Drift(string siteId, string kioskId) => Build(siteId, kioskId, DriftKind);

    /// <summary>Subscription filter for one kind from every kiosk of every site, e.g. <c>edge/v1/+/+/events</c>.</summary>
    public static string AllKiosks(string kind) => $"{Root}/+/+/{kind}";

    /// <summary>
    /// A shared subscription (<c>$share/{group}/{filter}</c>, MQTT 5): the broker hands each message to one member of the group.
    /// </summary>
    public static string Shared(string group, string filter)
    {
        if (!EdgeIds.IsValid(group))
        {
            throw new ArgumentException($"Shared subscription group '{group}' is not a valid id ({EdgeIds.Rule}).", nameof(group));
        }

        ArgumentException.ThrowIfNullOrEmpty(filter);
        return $"$share/{group}/{filter}";
    }

    /// <summary>Splits <c>edge/v1/{site}/{kiosk}/{kind}</c>; false for any topic outside the contract.</summary>
    public static bool TryParse(string topic, out string siteId, out string kioskId, out string kind)
    {
        siteId = kioskId = kind = string.Empty;
        if (topic is null || !topic.StartsWith(Root + "/", StringComparison.Ordinal))
        {
            return false;
        }

        var parts = topic[(Root.Length + 1)..].Split('/');
        if (parts.Length != 3 || !EdgeIds.IsValid(parts[0]) || !EdgeIds.IsValid(parts[1]) || parts[2].Length == 0)
        {
            return false;
        }

        (siteId, kioskId, kind) = (parts[0], parts[1], parts[2]);
        return true;
    }

    private static string Build(string siteId, string kioskId, string kind)
    {
        EdgeIds.ThrowIfInvalid(siteId, nameof(siteId));
        EdgeIds.ThrowIfInvalid(kioskId, nameof(kioskId));
        return $"{Root}/{siteId}/{kioskId}/{kind}";
    }
}

/// <summary>Rules for site and kiosk ids: they become topic levels, so they must never carry MQTT syntax.</summary>
public static class EdgeIds
{
    /// <summary>The rule in words, for error messages.</summary>
    public const string Rule = "1-64 characters of A-Z, a-z, 0-9, '-' or '_', starting with a letter or digit";

    /// <summary>True when <paramref name="id"/> is safe as one MQTT topic level (no '/', '+', '#', '$', spaces or control characters).</summary>
    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 64 || !char.IsAsciiLetterOrDigit(id[0]))
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the parameter when the id breaks <see cref="Rule"/>.</summary>
    public static void ThrowIfInvalid(string? id, string paramName)
    {
        if (!IsValid(id))
        {
            throw new ArgumentException($"'{id}' is not a valid id: {Rule}.", paramName);
        }
    }
}
