using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Edge.Explain;
using Edge.Host.Options;
using Edge.Sync.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Edge.Host.Tests;

/// <summary>`edge run` composed for real (real ffmpeg, channels, pipeline, HTTP); analyzer, explainer and outbox are doubles.</summary>
public sealed partial class KioskEndToEndTests
{
    private static readonly float[] Negative = ScriptedAnalyzer.Scores(happy: 0.05f, sad: 0.45f, angry: 0.3f);
    private static readonly float[] Content = ScriptedAnalyzer.Scores(happy: 0.7f);

    private static long Metric(string text, string series)
    {
        var m = Regex.Match(text, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        return m.Success ? (long)double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    [Fact]
    public async Task Run_FiniteVideo_EveryFrameAccountedEventsCarryContractAndServiceStopsItself()
    {
        var analyzer = new ScriptedAnalyzer([Negative, Content, Content], new FaceBox(100, 60, 220, 180), detectorScore: 0.93f);
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(TestVideo.Path, "--Camera:Loop=false", "--Camera:Realtime=false", "--Pipeline:Explain=Flagged", "--Pipeline:MaxFrameAge=00:01:00"),
            analyzer,
            [new FlagRuleOptions { Name = "negative", When = "angry+disgust+fear+sad > 0.6" }]);
        var lifetime = kiosk.App.Services.GetRequiredService<IHostApplicationLifetime>();

        await Wait.UntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, TimeSpan.FromSeconds(30), "the service to stop at end of file");
        var metrics = kiosk.App.Services.GetRequiredService<PrometheusExporter>().Scrape();

        var camera = Metric(metrics, "edge_camera_frames_total");
        var dropped = Math.Max(0, Metric(metrics, "edge_camera_frames_dropped_total"));
        var processed = Metric(metrics, "edge_pipeline_frames_total");
        Assert.Equal(TestVideo.FrameCount, camera);
        Assert.Equal(camera, processed + dropped);
        Assert.Equal(processed, kiosk.Analyzer.Calls);
        Assert.Equal(processed, kiosk.Sink.Events.Count);
        Assert.Equal(processed, Metric(metrics, "edge_events_published_total"));

        var events = kiosk.Sink.Events.ToList();
        Assert.All(events, e =>
        {
            Assert.Equal(7, Guid.Parse(e.EventId).Version);
            Assert.Equal(1u, e.SchemaVersion);
            Assert.Equal("site-1", e.SiteId);
            Assert.Equal("kiosk-7", e.KioskId);
            Assert.Equal("scripted-test-analyzer", e.ModelId);
            Assert.Equal(64, e.ModelSha256.Length);
            Assert.Equal(320u, e.FrameWidth);
            Assert.Equal(240u, e.FrameHeight);
            Assert.Equal(100f, e.FaceBox.X1);
            Assert.Equal(180f, e.FaceBox.Y2);
            Assert.Equal(0.93f, e.DetectorScore);
            var negative = e.Scores.Angry + e.Scores.Disgust + e.Scores.Fear + e.Scores.Sad > 0.6f;
            Assert.Equal(negative, e.Flagged);
            Assert.Equal(negative ? "negative: angry+disgust+fear+sad 0.75 > 0.6" : "", e.FlagReason);
            // Explain=Flagged, target "top": flagged faces carry one heatmap for their top class (sad)
            Assert.Equal(negative ? 1 : 0, e.Heatmaps.Count);
            if (negative)
            {
                Assert.Equal("sad", e.Heatmaps[0].TargetClass);
            }
        });
        Assert.Contains(events, e => e.Flagged);
        Assert.Contains(events, e => !e.Flagged);
        var ids = events.Select(e => Guid.Parse(e.EventId)).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.CaptureTimeUnixMs <= p.Second.CaptureTimeUnixMs));
    }

    [Fact]
    public async Task Run_AnalyzerSlowerThanCamera_DropsOldestFramesCountedQueueStaysBounded()
    {
        var slow = new ScriptedAnalyzer([Content], new FaceBox(0, 0, 50, 50), delay: TimeSpan.FromMilliseconds(40));
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(TestVideo.Path, "--Camera:Loop=false", "--Camera:Realtime=false", "--Camera:ChannelCapacity=2", "--Pipeline:Explain=None", "--Pipeline:MaxFrameAge=00:01:00"),
            slow);
        var lifetime = kiosk.App.Services.GetRequiredService<IHostApplicationLifetime>();

        await Wait.UntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, TimeSpan.FromSeconds(30), "the service to stop at end of file");
        var metrics = kiosk.App.Services.GetRequiredService<PrometheusExporter>().Scrape();

        var dropped = Metric(metrics, "edge_camera_frames_dropped_total");
        var processed = Metric(metrics, "edge_pipeline_frames_total");
        Assert.True(dropped > 10, $"expected drops when the analyzer takes 40 ms and ffmpeg decodes faster; metrics:\n{metrics}");
        Assert.Equal(TestVideo.FrameCount, processed + dropped);
        Assert.Matches("edge_pipeline_stage_duration_seconds_bucket\\{stage=\"analyze\",le=\"0.05\"\\} [1-9]", metrics);
    }

    [Fact]
    public async Task Healthz_Streaming_Returns200WithEveryStageHealthy()
    {
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(TestVideo.Path, "--Camera:Loop=true", "--Camera:Realtime=true", "--Pipeline:Explain=None"));
        await Wait.UntilAsync(() => kiosk.Sink.Events.Count >= 5, TimeSpan.FromSeconds(15), "events");

        using var response = await kiosk.Http.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
        var stages = json.RootElement.GetProperty("stages");
        Assert.Equal("streaming", stages.GetProperty("camera").GetProperty("description").GetString());
        Assert.True(stages.GetProperty("camera").GetProperty("frames").GetInt64() >= 5);
        Assert.Equal("Healthy", stages.GetProperty("pipeline").GetProperty("status").GetString());
        Assert.Equal("Healthy", stages.GetProperty("events").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Healthz_MissingDevice_Returns503NamingTheDeviceAndServiceKeepsRunning()
    {
        await using var kiosk = await KioskHarness.StartAsync(KioskHarness.BaseArgs(
            "/dev/video97", "--Camera:Kind=Device", "--Camera:RestartDelay=00:00:00.2", "--Camera:RestartJitter=false", "--Pipeline:Explain=None"));
        var source = kiosk.App.Services.GetRequiredService<Edge.Camera.IFrameSource>();
        await Wait.UntilAsync(() => source.Status.Restarts >= 1, TimeSpan.FromSeconds(10), "a failed camera session");

        using var response = await kiosk.Http.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var camera = json.RootElement.GetProperty("stages").GetProperty("camera");
        Assert.Equal("Unhealthy", camera.GetProperty("status").GetString());
        Assert.Equal("Backoff", camera.GetProperty("state").GetString());
        Assert.Contains("/dev/video97", camera.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.False(kiosk.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task Metrics_WhileStreaming_ServesPrometheusTextWithStageHistograms()
    {
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(TestVideo.Path, "--Camera:Loop=true", "--Camera:Realtime=true", "--Pipeline:Explain=All"));
        await Wait.UntilAsync(() => kiosk.Sink.Events.Count >= 5, TimeSpan.FromSeconds(15), "events");

        using var response = await kiosk.Http.GetAsync(new Uri("/metrics", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("# TYPE edge_camera_frames_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE edge_pipeline_stage_duration_seconds histogram", text, StringComparison.Ordinal);
        foreach (var stage in new[] { "analyze", "explain", "event", "enqueue", "sink" })
        {
            Assert.Contains($"edge_pipeline_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}}", text, StringComparison.Ordinal);
        }

        Assert.Contains("# TYPE edge_events_pending gauge", text, StringComparison.Ordinal);
        Assert.True(Metric(text, "edge_pipeline_faces_total") >= 5);
        Assert.True(Metric(text, "edge_pipeline_faces_explained_total") >= 5);
    }

    [Fact]
    public async Task Publisher_OutboxRefuses_EventsKeptHealthUnhealthyThenDelivered()
    {
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(TestVideo.Path, "--Camera:Loop=true", "--Camera:Realtime=true", "--Pipeline:Explain=None"));
        await Wait.UntilAsync(() => kiosk.Sink.Events.Count >= 2, TimeSpan.FromSeconds(15), "events");
        kiosk.Sink.Refuse = true;
        await Task.Delay(1500);

        using (var response = await kiosk.Http.GetAsync(new Uri("/healthz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("outbox refuses events: outbox disk full (test)", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var before = kiosk.Sink.Events.Count;
        kiosk.Sink.Refuse = false;
        await Wait.UntilAsync(() => kiosk.Sink.Events.Count > before + 10, TimeSpan.FromSeconds(10), "delivery to resume");
        // the analyzer saw every processed frame; none of their events was lost while the outbox refused
        var analyzed = kiosk.Analyzer.Calls;
        await Wait.UntilAsync(
            () => kiosk.Sink.Events.Count + kiosk.App.Services.GetRequiredService<Edge.Host.Pipeline.PipelineChannels>().Events.Reader.Count >= analyzed - 1,
            TimeSpan.FromSeconds(5), "every analyzed face to be queued or delivered");
    }
}

/// <summary>`edge run` with the real Edge.Sync stage: SQLite outbox and a real Mosquitto broker on 127.0.0.1.</summary>
public sealed class KioskSyncTests
{
    [Fact]
    public async Task Run_RealOutboxAndBroker_EventsAcknowledgedAndSyncHealthy()
    {
        await using var broker = await Edge.Testing.MosquittoBroker.StartAsync();
        var outbox = Path.Combine(Path.GetTempPath(), $"edge-outbox-{Guid.NewGuid():N}.db");
        var analyzer = new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.7f)], new FaceBox(100, 60, 220, 180));
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(TestVideo.Path, "--Camera:Loop=true", "--Camera:Realtime=true", "--Pipeline:Explain=None",
                $"--Sync:Broker:Port={broker.Port}", $"--Sync:Broker:Username={broker.Username}", $"--Sync:Broker:Password={broker.Password}",
                $"--Sync:Outbox:Path={outbox}"),
            analyzer,
            realSync: true);
        var exporter = kiosk.App.Services.GetRequiredService<PrometheusExporter>();

        await Wait.UntilAsync(
            () => Regex.Match(exporter.Scrape(), "^edge_sync_events_published_total (\\d+)", RegexOptions.Multiline) is { Success: true } m
                && long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 10,
            TimeSpan.FromSeconds(30), "10 events acknowledged by the broker");
        // Edge.Sync refreshes its health snapshot about once a second
        var syncHealth = kiosk.App.Services.GetRequiredService<Edge.Sync.SyncHealth>();
        await Wait.UntilAsync(() => syncHealth.Current.Status == Edge.Sync.SyncHealthStatus.Healthy, TimeSpan.FromSeconds(10), "sync health to refresh");

        using var response = await kiosk.Http.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var sync = json.RootElement.GetProperty("stages").GetProperty("sync");
        Assert.Equal("Healthy", sync.GetProperty("status").GetString());
        Assert.Equal("Connected", sync.GetProperty("connection").GetString());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

/// <summary>`edge run` with the real Edge.Explain analyzer (BlazeFace + emotion model on ONNX Runtime) on a real face.</summary>
public sealed class KioskRealAnalyzerTests
{
    private static async Task<string> AstronautVideoAsync()
    {
        var cache = Environment.GetEnvironmentVariable("EDGE_CACHE")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "edge");
        var photo = Path.Combine(cache, "faces", "astronaut.png");
        Assert.True(File.Exists(photo), $"{photo} missing: run ./edge setup (it fetches the face photographs)");
        var video = Path.Combine(Path.GetTempPath(), $"edge-astronaut-{Environment.ProcessId}-{Guid.NewGuid():N}.mp4");
        using (var ffmpeg = System.Diagnostics.Process.Start("ffmpeg",
            ["-y", "-loglevel", "error", "-loop", "1", "-i", photo, "-t", "1", "-r", "10", "-pix_fmt", "yuv420p", "-vf", "scale=640:-2", video]))
        {
            await ffmpeg.WaitForExitAsync();
            Assert.Equal(0, ffmpeg.ExitCode);
        }

        return video;
    }

    [Fact]
    public async Task Run_RealAnalyzerOnSmilingFaceVideo_EventsCarryHappyFaceAndModelHash()
    {
        var video = await AstronautVideoAsync();
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(video, "--Camera:Width=640", "--Camera:Height=480", "--Camera:Fps=10", "--Camera:Loop=false",
                "--Camera:Realtime=false", "--Pipeline:Explain=None", "--Pipeline:MaxFrameAge=00:01:00"),
            realAnalyzer: true);
        var lifetime = kiosk.App.Services.GetRequiredService<IHostApplicationLifetime>();
        await Wait.UntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, TimeSpan.FromSeconds(60), "the file to end");

        var events = kiosk.Sink.Events.ToList();
        Assert.NotEmpty(events);
        Assert.All(events, e =>
        {
            Assert.StartsWith("emotion-", e.ModelId, StringComparison.Ordinal);
            Assert.Matches("^[0-9a-f]{64}$", e.ModelSha256);
            Assert.True(e.DetectorScore >= 0.5f, $"detector {e.DetectorScore}");
            Assert.True(e.Scores.Happy > 0.5f, $"happy {e.Scores.Happy}");
            Assert.True(e.FaceBox.X2 > e.FaceBox.X1 && e.FaceBox.Y2 > e.FaceBox.Y1);
        });
    }

    [Fact]
    public async Task Run_RealExplainerEveryFace_EventsCarryCodecV2HeatmapOfTopClass()
    {
        var video = await AstronautVideoAsync();
        await using var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs(video, "--Camera:Width=640", "--Camera:Height=480", "--Camera:Fps=10", "--Camera:Loop=false",
                "--Camera:Realtime=false", "--Pipeline:Explain=All", "--Pipeline:MaxFrameAge=00:01:00"),
            realAnalyzer: true);
        var lifetime = kiosk.App.Services.GetRequiredService<IHostApplicationLifetime>();
        await Wait.UntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, TimeSpan.FromSeconds(90), "the file to end");

        var events = kiosk.Sink.Events.ToList();
        Assert.NotEmpty(events);
        Assert.All(events, e =>
        {
            var heatmap = Assert.Single(e.Heatmaps);
            Assert.Equal("happy", heatmap.TargetClass);
            Assert.Equal(2u, heatmap.CodecVersion);
            Assert.True(heatmap.Width * heatmap.Height > 0 && heatmap.Scale > 0 && heatmap.Data.Length is > 0 and <= 1024);
            // the codec decodes back to a map of the stated size
            var map = Edge.Explain.Heatmaps.HeatmapCodec.Decode(new((int)heatmap.CodecVersion, (int)heatmap.Width, (int)heatmap.Height, heatmap.Scale, heatmap.Data.ToByteArray()));
            Assert.Equal((int)(heatmap.Width * heatmap.Height), map.Length);
        });
    }
}
