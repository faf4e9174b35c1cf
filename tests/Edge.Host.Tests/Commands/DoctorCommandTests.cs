using Edge.Host.Commands;
using Microsoft.Extensions.Configuration;

namespace Edge.Host.Tests.Commands;

public sealed class DoctorCommandTests
{
    private static Task<DoctorReport> InspectAsync(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        return DoctorCommand.InspectAsync(configuration, TimeProvider.System, CancellationToken.None);
    }

    [Fact]
    public async Task InspectAsync_DefaultConfiguration_ReportsOrt1_30_0AndCpu()
    {
        var report = await InspectAsync();

        var ort = report["onnxruntime"];
        Assert.Equal(DoctorStatus.Ok, ort.Status);
        Assert.StartsWith("1.30.0 at ", ort.Detail, StringComparison.Ordinal);
        Assert.Contains("CPUExecutionProvider", report["providers (library)"].Detail, StringComparison.Ordinal);
        var used = report["providers (used)"];
        Assert.Equal(DoctorStatus.Ok, used.Status);
        Assert.StartsWith("CPU ", used.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InspectAsync_CudaConfiguredWithoutCuda_WarnsWithOrtMessageAndUsesCpu()
    {
        var report = await InspectAsync(("Onnx:Providers", "CUDA,CPU"));

        var used = report["providers (used)"];
        Assert.Equal(DoctorStatus.Warn, used.Status);
        Assert.StartsWith("CPU ", used.Detail, StringComparison.Ordinal);
        Assert.Contains("configured: CUDA, CPU", used.Detail, StringComparison.Ordinal);
        Assert.Contains("Failed to load shared library", used.Detail, StringComparison.Ordinal);
        Assert.Equal(report.Checks.Any(c => c.Required && c.Status == DoctorStatus.Missing) ? 1 : 0, report.ExitCode);
    }

    [Fact]
    public async Task InspectAsync_MissingLibraryPath_ReportsMissingWithSetupFixAndExit1()
    {
        var report = await InspectAsync(("Onnx:LibraryPath", "/nonexistent/libonnxruntime.so.1"));

        var ort = report["onnxruntime"];
        Assert.Equal(DoctorStatus.Missing, ort.Status);
        Assert.Contains("/nonexistent/libonnxruntime.so.1", ort.Detail, StringComparison.Ordinal);
        Assert.Equal("./edge setup", ort.Fix);
        Assert.Equal(1, report.ExitCode);

        using var text = new StringWriter();
        report.WriteTo(text);
        Assert.Contains("fix: ./edge setup", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void MallocArenaCheck_UnsetWarnsWithTheFix_SetIsOk()
    {
        var unset = DoctorCommand.MallocArenaCheck(null);
        Assert.Equal(DoctorStatus.Warn, unset.Status);
        Assert.False(unset.Required);
        Assert.Contains("./edge", unset.Fix, StringComparison.Ordinal);
        var set = DoctorCommand.MallocArenaCheck("2");
        Assert.Equal((DoctorStatus.Ok, "MALLOC_ARENA_MAX=2"), (set.Status, set.Detail));
    }

    [Fact]
    public async Task FirstLineAsync_UnknownTool_ReturnsNull()
    {
        Assert.Null(await DoctorCommand.FirstLineAsync("edge-no-such-tool", ["--version"], TimeProvider.System, CancellationToken.None));
    }

    [Fact]
    public async Task FirstLineAsync_RealTool_ReturnsFirstLine()
    {
        var line = await DoctorCommand.FirstLineAsync("sh", ["-c", "echo; echo second line; echo third"], TimeProvider.System, CancellationToken.None);
        Assert.Equal("second line", line);
    }
}
