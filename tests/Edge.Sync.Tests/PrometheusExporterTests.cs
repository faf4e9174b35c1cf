using System.Diagnostics.Metrics;
using Edge.Sync.Metrics;
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
    }
}
