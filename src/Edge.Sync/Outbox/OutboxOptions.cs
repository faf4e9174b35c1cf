namespace Edge.Sync.Outbox;

/// <summary>SQLite <c>synchronous</c> setting of the outbox (the journal is always WAL).</summary>
public enum OutboxSynchronous
{
    /// <summary>fsync the WAL at every commit: a committed event survives power loss. Default (see README).</summary>
    Full,

    /// <summary>fsync only at checkpoints: survives a process crash, may lose the last commits on power loss.</summary>
    Normal,
}

/// <summary>What the outbox does when <see cref="OutboxOptions.MaxBytes"/> is reached.</summary>
public enum OutboxFullPolicy
{
    /// <summary>Delete the oldest pending events to make room (counted as dropped, reason <c>cap_bytes</c>). Default: the newest data matter most on a kiosk that was offline for days.</summary>
    DropOldest,

    /// <summary>Refuse the new event (the producer gets <see cref="EventRefusedException"/>, counted as refused, reason <c>outbox_full</c>).</summary>
    RejectNew,
}

/// <summary>The kiosk outbox: a SQLite file in WAL mode holding every event until the broker acknowledged it.</summary>
public sealed class OutboxOptions
{
    /// <summary>Path of the SQLite file (created with its directory). Default <c>data/edge-outbox.db</c>.</summary>
    public string Path { get; set; } = "data/edge-outbox.db";

    /// <summary>Durability of a commit. Default <see cref="OutboxSynchronous.Full"/>.</summary>
    public OutboxSynchronous Synchronous { get; set; } = OutboxSynchronous.Full;

    /// <summary>Cap on the bytes of pending events (payload + topic), 1 MiB to 1 TiB. Default 512 MiB.</summary>
    public long MaxBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Events older than this are deleted unsent (counted as dropped, reason <c>cap_age</c>), 1 min to 365 days. Default 7 days.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>What happens at <see cref="MaxBytes"/>. Default <see cref="OutboxFullPolicy.DropOldest"/>.</summary>
    public OutboxFullPolicy FullPolicy { get; set; } = OutboxFullPolicy.DropOldest;

    /// <summary>Largest accepted event (serialised), 1 KiB to 16 MiB; bigger ones are refused and counted (reason <c>too_large</c>). Default 256 KiB.</summary>
    public int MaxEventBytes { get; set; } = 256 * 1024;

    /// <summary>Most writes grouped into one transaction (group commit), 1-10000. Default 512.</summary>
    public int WriteBatchSize { get; set; } = 512;

    /// <summary>Enqueues waiting for the writer before producers are made to wait, 1-100000. Default 4096.</summary>
    public int WriteQueueCapacity { get; set; } = 4096;

    /// <summary>Broker-refused events kept for inspection in the dead-letter table, 0-1,000,000. Default 10000.</summary>
    public int MaxDeadLetters { get; set; } = 10_000;

    /// <summary>Test hook: SQLite <c>max_page_count</c>, to make "disk full" happen on demand.</summary>
    internal long? MaxPageCount { get; set; }

    /// <summary>Problems with these options, each naming its configuration key under <paramref name="prefix"/>.</summary>
    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Path))
        {
            errors.Add($"{prefix}:Path is empty; set the outbox database file.");
        }

        if (MaxBytes is < 1024 * 1024 or > 1024L * 1024 * 1024 * 1024)
        {
            errors.Add($"{prefix}:MaxBytes is {MaxBytes}; it must be between 1048576 (1 MiB) and 1099511627776 (1 TiB).");
        }

        if (MaxAge < TimeSpan.FromMinutes(1) || MaxAge > TimeSpan.FromDays(365))
        {
            errors.Add($"{prefix}:MaxAge is {MaxAge}; it must be between 00:01:00 and 365.00:00:00.");
        }

        if (MaxEventBytes is < 1024 or > 16 * 1024 * 1024)
        {
            errors.Add($"{prefix}:MaxEventBytes is {MaxEventBytes}; it must be between 1024 and 16777216.");
        }
        else if (MaxEventBytes > MaxBytes)
        {
            errors.Add($"{prefix}:MaxEventBytes ({MaxEventBytes}) must not exceed {prefix}:MaxBytes ({MaxBytes}).");
        }

        if (WriteBatchSize is < 1 or > 10_000)
        {
            errors.Add($"{prefix}:WriteBatchSize is {WriteBatchSize}; it must be between 1 and 10000.");
        }

        if (WriteQueueCapacity is < 1 or > 100_000)
        {
            errors.Add($"{prefix}:WriteQueueCapacity is {WriteQueueCapacity}; it must be between 1 and 100000.");
        }

        if (MaxDeadLetters is < 0 or > 1_000_000)
        {
            errors.Add($"{prefix}:MaxDeadLetters is {MaxDeadLetters}; it must be between 0 and 1000000.");
        }

        return errors;
    }
}

/// <summary>Why an event was not accepted into the outbox.</summary>
public enum EventRefusal
{
    /// <summary>The event breaks the contract (see <see cref="Contract.FaceEventContract.Validate"/>).</summary>
    Invalid,

    /// <summary>Serialised, it is larger than <see cref="OutboxOptions.MaxEventBytes"/>.</summary>
    TooLarge,

    /// <summary>The outbox is at <see cref="OutboxOptions.MaxBytes"/> and the policy is <see cref="OutboxFullPolicy.RejectNew"/>.</summary>
    OutboxFull,

    /// <summary>SQLite could not write: the disk (or the database size limit) is full.</summary>
    DiskFull,

    /// <summary>Another storage error (I/O, corruption); see the inner exception.</summary>
    StorageError,
}

/// <summary>The outbox did not take the event; it is counted in <c>edge.sync.events.refused</c> with the reason.</summary>
public sealed class EventRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EventRefusedException(EventRefusal reason, string message, Exception? innerException = null)
        : base(message, innerException) => Reason = reason;

    /// <summary>Creates the exception.</summary>
    public EventRefusedException() : this(EventRefusal.Invalid, "event refused") { }

    /// <summary>Creates the exception.</summary>
    public EventRefusedException(string message) : this(EventRefusal.Invalid, message) { }

    /// <summary>Creates the exception.</summary>
    public EventRefusedException(string message, Exception innerException) : this(EventRefusal.StorageError, message, innerException) { }

    /// <summary>Why.</summary>
    public EventRefusal Reason { get; }
}
