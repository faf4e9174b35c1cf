using Edge.Explain;
using Edge.Explain.Drift;
using Edge.Explain.Faces;
using Edge.Host.Commands;
using Edge.Host.Trust;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;
using Edge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Edge.Host.Tests.Trust;

public sealed class DriftObserverTests
{
    private static DriftBaseline Baseline() =>
        DriftBaseline.Build([.. Enumerable.Range(0, 50).Select(_ => new float[8])], 10, "2026-11-21T00:00:00Z", "t", "s");

    [Theory]
    [InlineData(1.0, 1)]
    [InlineData(0.0, 0)]
    public async Task Observe_RealFaceWithHeatmap_SampledShareGetsTheOcclusionCheck(double rate, int expectedChecks)
    {
        using var real = await RealFace.AstronautAsync();
        var (image, faceOptions, env) = (real.Image, real.Options, real.Environment);
        var faces = new List<FaceResult> { real.Face };
        var relevance = new float[64 * 64];
        for (var y = 40; y < 56; y++)
        {
            for (var x = 16; x < 48; x++)
            {
                relevance[(y * 64) + x] = 1; // the mouth
            }
        }

        faces[0].Heatmaps.Add(new Heatmap("happy", 64, 64, relevance));
        var options = new DriftOptions { OcclusionSampleRate = rate };
        var monitor = new DriftMonitor(Baseline(), options, new ManualTimeProvider(DateTimeOffset.UnixEpoch));
        using var observer = new DriftFaceObserver(monitor, Microsoft.Extensions.Options.Options.Create(options), Microsoft.Extensions.Options.Options.Create(faceOptions), env, NullLogger<DriftFaceObserver>.Instance);
        observer.Observe(image.Rgb24, image.Width, image.Height, faces[0]);
        var report = monitor.Report();
        Assert.Equal(1, report.FacesSeen);
        Assert.Equal(expectedChecks, report.OcclusionChecksTotal);
        if (expectedChecks == 1)
        {
            // the astronaut smiles: greying her mouth lowers "happy" more than most random patches; the check itself is exact
            var outcome = observer.Check(image.Rgb24, image.Width, image.Height, faces[0]);
            Assert.Equal(faces[0].Scores[3], outcome.Intact, 3);
            Assert.True(outcome.TopDrop > 0, $"mouth occluded: {outcome.Intact} → {outcome.TopOccluded}");
        }
    }

    [Fact]
    public void AddEdgeTrust_EnabledWithoutBaseline_FailsAtStartNamingTheKey()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Drift:Enabled"] = "false", ["Drift:Window"] = "5" }).Build();
        using var sp = new ServiceCollection().AddEdgeTrust(config).BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<DriftOptions>>().Value);
        Assert.Contains("Drift:Window", e.Message, StringComparison.Ordinal);

        var enabled = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Drift:Enabled"] = "true" }).Build();
        using var sp2 = new ServiceCollection().AddEdgeTrust(enabled).BuildServiceProvider();
        var e2 = Assert.Throws<OptionsValidationException>(() => sp2.GetRequiredService<IOptions<DriftOptions>>().Value);
        Assert.Contains("Drift:BaselinePath", e2.Message, StringComparison.Ordinal);
    }
}
