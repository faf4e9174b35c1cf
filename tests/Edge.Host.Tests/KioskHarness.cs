using System.Diagnostics;
using Edge.Explain;
using Edge.Host.Commands;
using Edge.Host.Options;
using Edge.Host.Pipeline;
using Edge.Host.Systemd;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Host.Tests;

/// <summary>The real `edge run` composition in-process, with doubles only for unbuilt stages and hardware.</summary>
internal sealed class KioskHarness : IAsyncDisposable
{
    private KioskHarness(WebApplication app, RecordingSink sink, ScriptedAnalyzer analyzer, MarkingExplainer explainer)
    {
        (App, Sink, Analyzer, Explainer) = (app, sink, analyzer, explainer);
        Http = new HttpClient { BaseAddress = new Uri(RunCommand.BoundAddress(app)), Timeout = TimeSpan.FromSeconds(10) };
    }

    public WebApplication App { get; }

    public HttpClient Http { get; }

    public RecordingSink Sink { get; }

    public ScriptedAnalyzer Analyzer { get; }

    public MarkingExplainer Explainer { get; }

    public static string[] BaseArgs(string source, params string[] more) =>
    [
        "--Kiosk:SiteId=site-1", "--Kiosk:KioskId=kiosk-7", "--Http:Port=0", $"--Camera:Source={source}",
        "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=25", "--Logging:LogLevel:Default=Warning", .. more,
    ];

    public static async Task<KioskHarness> StartAsync(
        string[] args,
        ScriptedAnalyzer? analyzer = null,
        IReadOnlyList<FlagRuleOptions>? rules = null,
        Action<IServiceCollection>? more = null,
        bool realSync = false,
        bool realAnalyzer = false)
    {
        var sink = new RecordingSink();
        analyzer ??= new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.8f)], new FaceBox(100, 60, 220, 180));
        var explainer = new MarkingExplainer();
        var app = RunCommand.Build(args, (services, configuration) =>
        {
            services.AddSingleton<IFaceExplainer>(explainer);
            if (realAnalyzer)
            {
                services.AddEdgeStages(configuration);
                services.AddSingleton<IFaceEventSink>(sink);
            }
            else if (realSync)
            {
                services.AddEdgeStages(configuration);
                services.AddSingleton<IFaceAnalyzer>(analyzer);
            }
            else
            {
                services.AddSingleton<IFaceAnalyzer>(analyzer);
                services.AddSingleton<IFaceEventSink>(sink);
            }

            services.AddSingleton(SystemdEnvironment.None);
            services.Configure<FlagOptions>(o => o.Rules = [.. rules ?? []]);
            more?.Invoke(services);
        });
        await app.StartAsync();
        return new KioskHarness(app, sink, analyzer, explainer);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
    }
}

/// <summary>A video made once by ffmpeg's own test source: 320×240, 25 fps, 2 s = 50 frames.</summary>
internal static class TestVideo
{
    private static readonly Lazy<string> s_path = new(() =>
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"edge-host-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var path = System.IO.Path.Combine(dir, "testsrc.mp4");
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2", "-pix_fmt", "yuv420p", path })
        {
            start.ArgumentList.Add(a);
        }

        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? path : throw new InvalidOperationException(err);
    });

    public static string Path => s_path.Value;

    public const int FrameCount = 50;
}

internal static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds} s for: {what}");
            }

            await Task.Delay(20);
        }
    }
}
