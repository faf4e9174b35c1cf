using Edge.Camera;
using Edge.Explain;
using Edge.Host.Commands;
using Edge.Host.Pipeline;
using Edge.Sync.Metrics;
using Edge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Host.Tests;

/// <summary>The pipeline core driven frame by frame from recorded frames, with time moved by hand.</summary>
public sealed class FacePipelineTests
{
    private static (ServiceProvider Provider, ManualTimeProvider Time) Compose(ScriptedAnalyzer analyzer, params (string Key, string Value)[] settings) =>
        Compose(analyzer, null, settings);

    private static (ServiceProvider Provider, ManualTimeProvider Time) Compose(ScriptedAnalyzer analyzer, MarkingExplainer? explainer, params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Kiosk:SiteId"] = "site-1",
            ["Kiosk:KioskId"] = "kiosk-7",
            ["Camera:Source"] = "/dev/video0",
            ["Camera:Width"] = "16",
            ["Camera:Height"] = "16",
            ["Pipeline:Explain"] = "None",
        };
        foreach (var (k, v) in settings)
        {
            values[k] = v;
        }

        var time = new ManualTimeProvider();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(time);
        services.AddEdgeKiosk(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        services.AddSingleton<IFaceAnalyzer>(analyzer);
        if (explainer is not null)
        {
            services.AddSingleton<IFaceExplainer>(explainer);
        }

        services.AddSingleton<IFaceEventSink>(new RecordingSink());
        var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<PrometheusExporter>();
        return (provider, time);
    }

    private static RecordedFrameSource Frames(TimeProvider time) =>
        new([new byte[16 * 16 * 3]], 16, 16, TimeSpan.Zero, 0, time);

    [Fact]
    public async Task ProcessAsync_FrameOlderThanMaxFrameAge_SkippedCountedNotAnalyzed()
    {
        var analyzer = new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.5f)], new FaceBox(0, 0, 8, 8));
        var (provider, time) = Compose(analyzer, ("Pipeline:MaxFrameAge", "00:00:00.5"));
        await using var _ = provider;
        var pipeline = provider.GetRequiredService<FacePipeline>();
        var source = Frames(time);

        using (var fresh = source.Next())
        {
            time.Advance(TimeSpan.FromMilliseconds(400));
            await pipeline.ProcessAsync(fresh, CancellationToken.None);
        }

        using (var stale = source.Next())
        {
            time.Advance(TimeSpan.FromMilliseconds(600));
            await pipeline.ProcessAsync(stale, CancellationToken.None);
        }

        var metrics = provider.GetRequiredService<PrometheusExporter>().Scrape();
        Assert.Equal(1, analyzer.Calls);
        Assert.Contains("edge_pipeline_frames_skipped_total{reason=\"stale\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("edge_pipeline_frames_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Equal(1, provider.GetRequiredService<PipelineChannels>().Events.Reader.Count);
    }

    [Fact]
    public async Task ProcessAsync_UnhappyHeldOnSameFace_FlaggedOnceDurationPassesByCaptureTime()
    {
        var analyzer = new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.1f)], new FaceBox(0, 0, 8, 8));
        var (provider, time) = Compose(analyzer,
            ("Flags:Rules:0:Name", "unhappy"), ("Flags:Rules:0:When", "happy < 0.2"), ("Flags:Rules:0:For", "00:00:01.5"));
        await using var _ = provider;
        var pipeline = provider.GetRequiredService<FacePipeline>();
        var events = provider.GetRequiredService<PipelineChannels>().Events.Reader;
        var source = Frames(time);
        var start = time.GetUtcNow();

        for (var i = 0; i < 5; i++)
        {
            using var frame = source.Next();
            await pipeline.ProcessAsync(frame, CancellationToken.None);
            time.Advance(TimeSpan.FromMilliseconds(500));
        }

        var flags = new List<(bool Flagged, long At)>();
        while (events.TryRead(out var e))
        {
            flags.Add((e.Flagged, e.CaptureTimeUnixMs - start.ToUnixTimeMilliseconds()));
        }

        Assert.Equal([(false, 0L), (false, 500), (false, 1000), (true, 1500), (true, 2000)], flags);
    }

    [Theory]
    [InlineData("All", 3, 3, "sad,happy")]
    [InlineData("Flagged", 0, 0, "")]
    [InlineData("Sampled", 0, 0, "sad,happy")]
    public async Task ProcessAsync_ExplainMode_ExplainerScoresOnlyWhenEveryFaceIsExplained(string mode, int unscored, int scoringRuns, string firstEventMaps)
    {
        var analyzer = new ScriptedAnalyzer([ScriptedAnalyzer.Scores(0.3f, sad: 0.6f)], new FaceBox(0, 0, 8, 8));
        var explainer = new MarkingExplainer();
        var (provider, time) = Compose(analyzer, explainer,
            ("Pipeline:Explain", mode), ("Pipeline:ExplainEvery", "5"), ("Pipeline:ExplainTargets:0", "top"), ("Pipeline:ExplainTargets:1", "happy"));
        await using var _ = provider;
        var pipeline = provider.GetRequiredService<FacePipeline>();
        var events = provider.GetRequiredService<PipelineChannels>().Events.Reader;
        var source = Frames(time);
        for (var i = 0; i < 3; i++)
        {
            using var frame = source.Next();
            await pipeline.ProcessAsync(frame, CancellationToken.None);
        }

        Assert.Equal(unscored, analyzer.UnscoredCalls);
        Assert.Equal(scoringRuns, explainer.ScoringCalls);
        Assert.True(events.TryRead(out var first));
        Assert.Equal(firstEventMaps, string.Join(",", first.Heatmaps.Select(h => h.TargetClass)));
        Assert.Equal(0.6f, first.Scores.Sad, 3);
    }

    [Fact]
    public void Percentile_NearestRank_PicksExpectedSample()
    {
        var sorted = Enumerable.Range(1, 100).Select(i => (double)i).ToList();

        Assert.Equal(50, PipelineBenchCommand.Percentile(sorted, 0.50));
        Assert.Equal(99, PipelineBenchCommand.Percentile(sorted, 0.99));
        Assert.Equal(7, PipelineBenchCommand.Percentile([7], 0.99));
    }
}
