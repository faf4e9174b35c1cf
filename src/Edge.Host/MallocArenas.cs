using System.Runtime.InteropServices;

namespace Edge.Host;

/// <summary>
/// Caps glibc's malloc arenas for this process (issue 5, README "Memory"): without a cap each thread that mallocs under
/// contention (ONNX Runtime, SQLite, libmosquitto, the runtime) may get an arena of its own, and the arenas' free
/// pages stay in RSS, which then creeps. <c>MALLOC_ARENA_MAX</c> in the environment (deploy/systemd/edge.service) also
/// covers the threads the runtime starts before <c>Main</c>; this covers every other way of starting <c>edge</c>.
/// </summary>
internal static partial class MallocArenas
{
    /// <summary>The cap applied when the environment sets none.</summary>
    public const int Default = 2;

    private const int MArenaMax = -8; // M_ARENA_MAX in glibc's malloc.h

    /// <summary>
    /// Applies <see cref="Default"/> through mallopt(3) unless <c>MALLOC_ARENA_MAX</c> is set (glibc read it at start)
    /// or this is not glibc on Linux. Returns whether this call set the cap.
    /// </summary>
    public static bool LimitUnlessConfigured()
    {
        if (!OperatingSystem.IsLinux() || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX")))
        {
            return false;
        }

        try
        {
            return Mallopt(MArenaMax, Default) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (musl has no arenas to cap)
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);
}
