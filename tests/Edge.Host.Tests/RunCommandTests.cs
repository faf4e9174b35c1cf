using Edge.Explain;
using Edge.Host.Commands;
using Edge.Host.Pipeline;
using Edge.Host.Systemd;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Host.Tests;

public sealed class RunCommandTests
{
    private static void Doubles(IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddSingleton<IFaceAnalyzer>(new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.5f)], new FaceBox(0, 0, 10, 10)));
        services.AddSingleton<IFaceExplainer>(new MarkingExplainer());
        services.AddSingleton<IFaceEventSink>(new RecordingSink());
        services.AddSingleton(SystemdEnvironment.None);
    }

    private static async Task<(int Code, string Error)> RunAsync(params string[] args)
    {
        using var error = new StringWriter();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var code = await RunCommand.RunAsync(args, error, Doubles, cts.Token);
        return (code, error.ToString());
    }

    [Theory]
    [InlineData("--Camera:Width=0", "Camera:Width must be between 16 and 4096 (was 0)")]
    [InlineData("--Camera:Width=wide", "Camera:Width")]
    [InlineData("--Camera:StallTimeout=00:00:00.1", "Camera:StallTimeout")]
    [InlineData("--Camera:Source=rtsp://", "Camera:Source 'rtsp://' is not a well-formed URL")]
    [InlineData("--Http:Address=localhost", "Http:Address must be an IP address")]
    [InlineData("--Pipeline:ExplainTargets:0=joy", "Pipeline:ExplainTargets:0")]
    [InlineData("--Pipeline:Explain=Sometimes", "Pipeline:Explain")]
    [InlineData("--Flags:Rules:0:When=happy ~ 0.2", "Flags:Rules:0:When operator")]
    [InlineData("--Gpio:Enabled=true", "neither Gpio:PresenceLine nor Gpio:LedLine")]
    public async Task RunAsync_BadValue_StopsAtStartNamingTheKey(string bad, string expected)
    {
        var (code, error) = await RunAsync(KioskHarness.BaseArgs("/dev/video0", bad));

        Assert.Equal(RunCommand.ConfigurationError, code);
        Assert.StartsWith("edge run: invalid configuration:", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingKioskIds_NamesBothKeys()
    {
        var (code, error) = await RunAsync("--Http:Port=0", "--Camera:Source=/dev/video0");

        Assert.Equal(RunCommand.ConfigurationError, code);
        Assert.Contains("Kiosk:SiteId", error, StringComparison.Ordinal);
        Assert.Contains("Kiosk:KioskId", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "not found")]
    [InlineData("{ \"Camera\": ", "open JSON object")]
    public async Task RunAsync_ConfigFileMissingOrMalformed_StopsAtStartNamingTheFile(string? content, string expected)
    {
        var file = Path.Combine(Path.GetTempPath(), $"edge-run-{Guid.NewGuid():N}.json");
        if (content is not null)
        {
            await File.WriteAllTextAsync(file, content);
        }

        try
        {
            var (code, error) = await RunAsync("--config", file, "--Http:Port=0");

            Assert.Equal(RunCommand.ConfigurationError, code);
            Assert.StartsWith($"edge run: invalid configuration: edge run cannot compose its configuration: --config {file}:", error, StringComparison.Ordinal);
            Assert.Contains(expected, error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task RunAsync_ConfigFile_IsReadAndCommandLineWins()
    {
        var file = Path.Combine(Path.GetTempPath(), $"edge-run-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{ "Kiosk": { "SiteId": "s", "KioskId": "k" }, "Camera": { "Source": "/dev/video0", "Fps": 500 } }""");

        var (code, error) = await RunAsync("--config", file, "--Http:Port=0", "--Camera:Height=8");

        Assert.Equal(RunCommand.ConfigurationError, code);
        Assert.Contains("Camera:Fps must be between 1 and 120 (was 500)", error, StringComparison.Ordinal);
        Assert.Contains("Camera:Height must be between 16 and 4096 (was 8)", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Kiosk:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NoAnalyzerRegistered_SaysWhichStageIsMissing()
    {
        using var error = new StringWriter();
        var code = await RunCommand.RunAsync(KioskHarness.BaseArgs("/dev/video0"), error, (services, _) =>
        {
            services.AddSingleton<IFaceEventSink>(new RecordingSink());
            services.AddSingleton(SystemdEnvironment.None);
        }, CancellationToken.None);

        Assert.Equal(RunCommand.ConfigurationError, code);
        Assert.Contains("no face analyzer", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ExplainWithoutExplainer_FailsAtStartNamingKey()
    {
        using var error = new StringWriter();
        var code = await RunCommand.RunAsync(KioskHarness.BaseArgs("/dev/video0", "--Pipeline:Explain=All"), error, (services, _) =>
        {
            services.AddSingleton<IFaceAnalyzer>(new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.5f)], new FaceBox(0, 0, 10, 10)));
            services.AddSingleton<IFaceEventSink>(new RecordingSink());
            services.AddSingleton(SystemdEnvironment.None);
        }, CancellationToken.None);

        Assert.Equal(1, code);
        Assert.Contains("Pipeline:Explain is All but this build has no explainer", error.ToString(), StringComparison.Ordinal);
    }
}

public sealed class EdgeBinaryTests
{
    [Fact]
    public async Task EdgeRun_BuiltBinaryWithBadValue_Exits78WithOneLineNamingTheKey()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Edge.sln")))
        {
            dir = dir.Parent;
        }

        var edge = Path.Combine(dir!.FullName, "src/Edge.Host/bin/Release/net10.0/linux-x64/edge");
        var start = new System.Diagnostics.ProcessStartInfo(edge) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "run", "--Kiosk:SiteId=s1", "--Kiosk:KioskId=k1", "--Camera:Source=/dev/video0", "--Camera:Fps=0", "--Http:Port=0" })
        {
            start.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = await p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);

        Assert.Equal(78, p.ExitCode);
        Assert.Equal("edge run: invalid configuration: Camera:Fps must be between 1 and 120 (was 0)", stderr.Trim());
        Assert.DoesNotContain("Hosting failed", await stdout, StringComparison.Ordinal);
    }
}
