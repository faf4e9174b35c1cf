using System.Diagnostics.Metrics;
using Edge.Sync.Metrics;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Sync.Tests;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void Scrape_CounterGaugeHistogram_WritesExpositionFormat()
    {
        using var provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = provider.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(factory);
        var meter = factory.Create("Edge.Test");
        var counter = meter.CreateCounter<long>("edge.test.frames", "{frame}", "Frames seen");
        var histogram = meter.CreateHistogram<double>("edge.test.latency", "s", "Latency", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.1] });
        var depth = 7;
        meter.CreateObservableGauge("edge.test.depth", () => depth, "{event}", "Queue \"depth\"");
        using var foreign = new Meter("Edge.NotFromThisContainer");
        foreign.CreateCounter<long>("edge.foreign").Add(1);

        counter.Add(2);
        counter.Add(3);
        histogram.Record(0.005, new KeyValuePair<string, object?>("stage", "a"));
        histogram.Record(0.05, new KeyValuePair<string, object?>("stage", "a"));
        histogram.Record(5, new KeyValuePair<string, object?>("stage", "a"));
        histogram.Record(0.05, new KeyValuePair<string, object?>("stage", "b\"x"));
        depth = 9;

        var text = exporter.Scrape();

        Assert.Contains("# HELP edge_test_frames_total Frames seen\n# TYPE edge_test_frames_total counter\nedge_test_frames_total 5\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE edge_test_depth gauge\nedge_test_depth 9\n", text, StringComparison.Ordinal);
        Assert.Contains(
            "# TYPE edge_test_latency_seconds histogram\n" +
            "edge_test_latency_seconds_bucket{stage=\"a\",le=\"0.01\"} 1\n" +
            "edge_test_latency_seconds_bucket{stage=\"a\",le=\"0.1\"} 2\n" +
            "edge_test_latency_seconds_bucket{stage=\"a\",le=\"+Inf\"} 3\n" +
            "edge_test_latency_seconds_sum{stage=\"a\"} 5.055\n" +
            "edge_test_latency_seconds_count{stage=\"a\"} 3\n",
            text, StringComparison.Ordinal);
        Assert.Contains("edge_test_latency_seconds_bucket{stage=\"b\\\"x\",le=\"0.1\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("edge_foreign", text, StringComparison.Ordinal);
        var parsed = PrometheusText.Parse(text);
        Assert.Equal(3, parsed.Value("edge_test_latency_seconds_count", ("stage", "a")));
        Assert.Equal(1, parsed.Value("edge_test_latency_seconds_count", ("stage", "b\"x")));
    }

    [Fact]
    public void Scrape_RuntimeMeter_ExportsGcHeapAndWorkingSetInValidText()
    {
        using var provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var exporter = new PrometheusExporter(provider.GetRequiredService<IMeterFactory>());
        GC.Collect();

        var text = exporter.Scrape();

        var parsed = PrometheusText.Parse(text);
        Assert.Contains("# TYPE dotnet_process_memory_working_set_bytes gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_last_collection_heap_size_bytes{gc_heap_generation=\"gen0\"}", text, StringComparison.Ordinal);
        Assert.True(parsed.Value("dotnet_process_memory_working_set_bytes") > 1 << 20);
    }

    // The strict reader the services' /metrics tests rely on must refuse what a scraper would.
    [Theory]
    [InlineData("x_total 1\n", "outside the family")]
    [InlineData("# TYPE x_total counter\nx_total 1\n", "before both HELP and TYPE")]
    [InlineData("# HELP x_total a\n# TYPE x_total counter\nx_total one\n", "bad value")]
    [InlineData("# HELP x_total a\n# TYPE x_total counter\nx_total{a=\"1\",a=\"2\"} 1\n", "twice")]
    [InlineData("# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "below the previous")]
    [InlineData("# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf")]
    [InlineData("# HELP h a\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", "equal to the +Inf bucket")]
    [InlineData("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\n# HELP a x\n", "appears again")]
    public void PrometheusText_Malformed_RefusedWithReason(string text, string reason)
    {
        var e = Assert.Throws<FormatException>(() => PrometheusText.Parse(text));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
