// Shared by the benchmarks (linked into each project): the calling thread's CPU time, which a shared, noisy machine
// disturbs far less than wall time (ORT with one intra-op thread computes on the caller).
internal static class ThreadCpu
{
    public static double Milliseconds()
    {
        _ = ClockGetTime(3, out var ts); // CLOCK_THREAD_CPUTIME_ID
        return (ts.Seconds * 1e3) + (ts.Nanoseconds / 1e6);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec ts);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
