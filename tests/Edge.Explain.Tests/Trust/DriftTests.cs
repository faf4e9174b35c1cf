using Edge.Explain.Drift;
using Edge.Testing;

namespace Edge.Explain.Tests.Trust;

public sealed class DriftTests
{
    private static FaceResult Face(float happy, float detector)
    {
        var f = new FaceResult { DetectorScore = detector };
        f.Scores[3] = happy;
        f.Scores[6] = 1 - happy;
        return f;
    }

    private static DriftBaseline Baseline(Func<int, float> happy, int n = 400) =>
        DriftBaseline.Build([.. Enumerable.Range(0, n).Select(i => DriftBaseline.Observe(Face(happy(i), 0.9f)))], 10, "2026-11-21T00:00:00Z", "test", "sha");

    [Fact]
    public void Psi_IdenticalHistograms_Zero()
    {
        long[] h = [5, 10, 20, 0, 3];
        Assert.Equal(0, DriftMath.Psi(h, h), 12);
        Assert.Equal(0, DriftMath.Kl(h, h), 12);
    }

    [Fact]
    public void Psi_MassMovedToOtherBins_AboveMajorShiftThreshold()
    {
        long[] before = [100, 100, 0, 0];
        long[] after = [0, 0, 100, 100];
        Assert.True(DriftMath.Psi(before, after) > 0.25);
        Assert.True(DriftMath.Psi(before, after) > DriftMath.Psi(before, [60, 60, 40, 40]));
    }

    [Fact]
    public void Report_FewerFacesThanMinSamples_Insufficient()
    {
        var monitor = new DriftMonitor(Baseline(i => (i % 10) / 10f), new DriftOptions { Window = 100, MinSamples = 50 }, new ManualTimeProvider(DateTimeOffset.UnixEpoch));
        for (var i = 0; i < 49; i++)
        {
            monitor.Observe(Face((i % 10) / 10f, 0.9f));
        }

        Assert.Equal(DriftLevel.Insufficient, monitor.Report().Level);
    }

    [Fact]
    public void Report_SameDistribution_OkAndShiftedDistribution_Alert()
    {
        var options = new DriftOptions { Window = 200, MinSamples = 100 };
        var monitor = new DriftMonitor(Baseline(i => ((i % 10) + 0.5f) / 10f), options, new ManualTimeProvider(DateTimeOffset.UnixEpoch));
        for (var i = 0; i < 200; i++)
        {
            monitor.Observe(Face(((i % 10) + 0.5f) / 10f, 0.9f));
        }

        var same = monitor.Report();
        Assert.Equal(DriftLevel.Ok, same.Level);

        // the camera goes dark: happy collapses towards 0 and the detector loses confidence
        for (var i = 0; i < 200; i++)
        {
            monitor.Observe(Face(0.02f, 0.55f));
        }

        var shifted = monitor.Report();
        Assert.Equal(DriftLevel.Alert, shifted.Level);
        Assert.Equal(DriftLevel.Alert, shifted.Signals.Single(s => s.Name == "happy").Level);
        Assert.Equal(DriftLevel.Alert, shifted.Signals.Single(s => s.Name == "detector").Level);
        Assert.Equal(200, shifted.WindowFaces);
        Assert.Equal(400, shifted.FacesSeen);
    }

    [Fact]
    public void RecordOcclusion_MoreThanWindow_ShareOfRecentChecksOnly()
    {
        var monitor = new DriftMonitor(Baseline(_ => 0.5f), new DriftOptions { OcclusionWindow = 4 }, new ManualTimeProvider(DateTimeOffset.UnixEpoch));
        Assert.True(double.IsNaN(monitor.Report().OcclusionDisagreementShare));
        foreach (var d in new[] { true, true, true, false, false, false, true })
        {
            monitor.RecordOcclusion(d);
        }

        var r = monitor.Report();
        Assert.Equal(4, r.OcclusionChecks);
        Assert.Equal(1, r.OcclusionDisagreements);
        Assert.Equal(7, r.OcclusionChecksTotal);
    }

    [Fact]
    public void Validate_AlertNotAboveWarn_FailsNamingTheKey()
    {
        var result = new DriftOptionsValidator().Validate(null, new DriftOptions { WarnPsi = 0.3, AlertPsi = 0.2 });
        Assert.True(result.Failed);
        Assert.Contains("Drift:AlertPsi", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_EnabledWithoutBaseline_Fails()
    {
        var result = new DriftOptionsValidator().Validate(null, new DriftOptions { Enabled = true });
        Assert.True(result.Failed);
        Assert.Contains("Drift:BaselinePath", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(new DriftOptionsValidator().Validate(null, new DriftOptions()).Succeeded);
    }

    [Fact]
    public void SaveLoad_Baseline_RoundTripsAndRejectsOtherJson()
    {
        var dir = Directory.CreateTempSubdirectory("edge-drift-");
        try
        {
            var b = Baseline(i => (i % 7) / 7f);
            var path = Path.Combine(dir.FullName, "b.json");
            b.Save(path);
            var back = DriftBaseline.Load(path);
            Assert.Equal(b.Faces, back.Faces);
            Assert.Equal(b.Signals.Select(s => s.Counts), back.Signals.Select(s => s.Counts));
            File.WriteAllText(path, """{"schema":1,"bins":10,"signals":[]}""");
            Assert.Throws<InvalidDataException>(() => DriftBaseline.Load(path));
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
