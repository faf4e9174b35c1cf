using Edge.Onnx.Models;

namespace Edge.Host.Tests.Commands;

/// <summary>Bad input on the edge command line gives one error line and an exit code, never an unhandled exception.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData(1, "edge report bias: Access to the path", "report", "bias", "--labels", "{tmp}")]
    [InlineData(2, "edge bench pipeline: no such video, folder or device: /nonexistent/edge.mp4", "bench", "pipeline", "--source", "/nonexistent/edge.mp4", "--frames", "5")]
    public async Task Command_BadInput_ErrorLineAndExitCode(int expectedCode, string expected, params string[] args)
    {
        var (code, _, stderr) = await EdgeProcess.RunAsync(ModelPaths.ModelDirectory, [.. args.Select(a => a.Replace("{tmp}", Path.GetTempPath(), StringComparison.Ordinal))]);

        Assert.True(code == expectedCode, $"exit {code}: {stderr}");
        Assert.StartsWith(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
    }
}
