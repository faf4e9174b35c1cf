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
