namespace Edge.Testing;

/// <summary>A TimeProvider the test moves by hand (Microsoft.Extensions.TimeProvider.Testing is not served here).</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    private readonly Lock _gate = new();

    public ManualTimeProvider() : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) { }

    private readonly bool _manualTimestamps;
    private long _timestamp;

    /// <summary>With <paramref name="manualTimestamps"/>, the monotonic clock (GetTimestamp) moves with Advance only, not Step.</summary>
    public ManualTimeProvider(DateTimeOffset start, bool manualTimestamps) : this(start) => _manualTimestamps = manualTimestamps;

    public override DateTimeOffset GetUtcNow() { lock (_gate) { return _now; } }

    public override long TimestampFrequency => _manualTimestamps ? TimeSpan.TicksPerSecond : base.TimestampFrequency;

    public override long GetTimestamp() { lock (_gate) { return _manualTimestamps ? _timestamp : base.GetTimestamp(); } }

    public void Advance(TimeSpan by) { lock (_gate) { _now += by; _timestamp += by.Ticks; } }

    /// <summary>The wall clock steps (NTP, an operator) while the monotonic clock does not.</summary>
    public void Step(TimeSpan by) { lock (_gate) { _now += by; } }
}
