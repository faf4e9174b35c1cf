using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Edge.Host.Systemd;

/// <summary>What systemd told this process through its environment (sd_notify(3), sd_watchdog_enabled(3)).</summary>
public sealed record SystemdEnvironment(string? NotifySocket, TimeSpan? WatchdogPeriod)
{
    public static SystemdEnvironment None { get; } = new(null, null);

    /// <summary>Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the watchdog is ours only if the pid is unset or ours).</summary>
    public static SystemdEnvironment FromProcess()
    {
        var socket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        TimeSpan? watchdog = null;
        if (long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0)
        {
            var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
            if (string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
            {
                watchdog = TimeSpan.FromMicroseconds(usec);
            }
        }

        return new SystemdEnvironment(string.IsNullOrEmpty(socket) ? null : socket, watchdog);
    }
}

/// <summary>
/// sd_notify over $NOTIFY_SOCKET: a unix datagram per state change ("READY=1", "WATCHDOG=1", "STOPPING=1").
/// A leading '@' means the abstract namespace. Owns its socket.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endpoint;

    public SystemdNotifier(string notifySocket)
    {
        ArgumentException.ThrowIfNullOrEmpty(notifySocket);
        var path = notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket;
        _endpoint = new UnixDomainSocketEndPoint(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        Address = notifySocket;
    }

    public string Address { get; }

    /// <summary>Sends newline-separated assignments, e.g. "READY=1\nSTATUS=streaming".</summary>
    public void Notify(string state)
    {
        var bytes = Encoding.UTF8.GetBytes(state);
        _socket.SendTo(bytes, SocketFlags.None, _endpoint);
    }

    public void Dispose() => _socket.Dispose();
}
