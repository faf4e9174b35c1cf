using Edge.Explain.Bias;

namespace Edge.Explain.Tests.Trust;

public sealed class BiasAnalysisTests
{
    private static float[] Scores(int top, float confidence)
    {
        var s = Enumerable.Repeat((1 - confidence) / 6, 7).ToArray();
        s[top] = confidence;
        return s;
    }

    /// <summary>Group "b" is always wrong, "a" always right; "c" has 3 rows.</summary>
    private static List<BiasSample> Samples()
    {
        var list = new List<BiasSample>();
        for (var i = 0; i < 60; i++)
        {
            list.Add(new BiasSample($"a{i}", Scores(3, 0.9f), 3, new Dictionary<string, string> { ["site"] = "a" }));
            list.Add(new BiasSample($"b{i}", Scores(6, 0.9f), 3, new Dictionary<string, string> { ["site"] = "b" }));
        }

        for (var i = 0; i < 3; i++)
        {
            list.Add(new BiasSample($"c{i}", Scores(3, 0.6f), 3, new Dictionary<string, string> { ["site"] = "c" }));
        }

        return list;
    }

    [Fact]
    public void Compute_GroupAlwaysWrong_NegativeGapWithIntervalBelowZero()
    {
        var r = BiasAnalysis.Compute(Samples(), ["site"], "m");
        var b = r.Groups.Single(g => g.Value == "b");
        Assert.Equal(60, b.Count);
        Assert.Equal(0, b.Accuracy.Value);
        Assert.True(b.Accuracy.GapToOverall < -0.4);
        Assert.True(b.Accuracy.Significant);
        Assert.True(b.Accuracy.GapHigh < 0);
        Assert.Equal(63.0 / 123, r.Overall.Accuracy, 6);
        // a: confidence 0.9, always right → ECE 0.1; b: confidence 0.9, always wrong → ECE 0.9
        Assert.Equal(0.1, r.Groups.Single(g => g.Value == "a").CalibrationError.Value, 5);
        Assert.Equal(0.9, b.CalibrationError.Value, 5);
        Assert.Equal(0.1 / 6, b.HappyMean.Value, 5);
    }

    [Fact]
    public void Compute_GroupSmallerThanMinimum_WarnedAsTooFew()
    {
        var r = BiasAnalysis.Compute(Samples(), ["site"], "m", minGroupSize: 30);
        Assert.True(r.Groups.Single(g => g.Value == "c").TooFew);
        Assert.False(r.Groups.Single(g => g.Value == "a").TooFew);
        Assert.Single(r.Warnings);
        Assert.Contains("site=c", r.Warnings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_SameSeed_SameBytesAndOtherSeed_OtherIntervals()
    {
        var one = BiasAnalysis.Compute(Samples(), ["site"], "m", seed: 5).ToJson();
        var two = BiasAnalysis.Compute(Samples(), ["site"], "m", seed: 5).ToJson();
        var other = BiasAnalysis.Compute(Samples(), ["site"], "m", seed: 6).ToJson();
        Assert.Equal(one, two);
        Assert.NotEqual(one, other);
    }
}
