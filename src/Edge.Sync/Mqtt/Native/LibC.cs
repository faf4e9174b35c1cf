using System.Runtime.InteropServices;

namespace Edge.Sync.Mqtt.Native;

/// <summary>
/// The few libc calls the transport's own network loop needs (Linux): <c>poll</c> on libmosquitto's socket and a wake-up
/// <c>eventfd</c>, and <c>shutdown</c> to drop a connection without writing what libmosquitto has queued.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    internal const short POLLIN = 0x001;
    internal const short POLLOUT = 0x004;
    internal const short POLLERR = 0x008;
    internal const short POLLHUP = 0x010;
    internal const short POLLRDHUP = 0x2000;
    internal const int SHUT_RDWR = 2;
    internal const int EINTR = 4;
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;

    /// <summary>struct pollfd (poll.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(int fd, int how);

    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Library, EntryPoint = "eventfd_write", SetLastError = true)]
    internal static partial int EventFdWrite(EventFdHandle fd, ulong value);

    [LibraryImport(Library, EntryPoint = "eventfd_read", SetLastError = true)]
    internal static partial int EventFdRead(EventFdHandle fd, out ulong value);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}

/// <summary>The one owner of an eventfd (non-blocking, close-on-exec); <c>close</c> runs exactly once.</summary>
internal sealed class EventFdHandle : SafeHandle
{
    public EventFdHandle() : base(new IntPtr(-1), ownsHandle: true) { }

    public override bool IsInvalid => handle == new IntPtr(-1);

    /// <summary>The descriptor number, for <c>poll</c>.</summary>
    public int Descriptor => (int)handle;

    /// <summary>Creates one.</summary>
    /// <exception cref="MqttTransportException">eventfd failed (descriptor limit).</exception>
    public static EventFdHandle Create()
    {
        var fd = LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (fd < 0)
        {
            throw new MqttTransportException($"eventfd failed: {Marshal.GetLastPInvokeErrorMessage()}", MosquittoNative.MOSQ_ERR_ERRNO);
        }

        var created = new EventFdHandle();
        created.SetHandle(fd);
        return created;
    }

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
