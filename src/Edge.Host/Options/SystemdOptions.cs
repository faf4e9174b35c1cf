namespace Edge.Host.Options;

/// <summary>systemd integration (section <c>Systemd</c>); the socket and watchdog period come from systemd's environment.</summary>
public sealed class SystemdOptions
{
    public const string SectionName = "Systemd";

    /// <summary>The watchdog is fed only if the pipeline processed a frame within this time (or capture is intentionally idle). Default 10 s.</summary>
    public TimeSpan WatchdogFrameTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
