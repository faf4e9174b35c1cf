namespace Edge.Host.Tests;

public sealed class MallocArenasTests
{
    [Fact]
    public void LimitUnlessConfigured_OnGlibcWithoutTheVariable_SetsTheCap()
    {
        var configured = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX"));
        // this machine runs glibc: mallopt(M_ARENA_MAX) must be found and accepted unless the environment already set it
        Assert.Equal(!configured, MallocArenas.LimitUnlessConfigured());
    }
}
