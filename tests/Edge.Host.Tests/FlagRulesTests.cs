using Edge.Explain;
using Edge.Host.Options;
using Edge.Host.Pipeline;

namespace Edge.Host.Tests;

public sealed class FlagRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static FaceResult Face(float happy, float sad = 0, float angry = 0, float detector = 0.9f)
    {
        var f = new FaceResult { Box = new FaceBox(10, 10, 110, 110), DetectorScore = detector };
        ScriptedAnalyzer.Scores(happy, sad, angry).CopyTo(f.Scores, 0);
        return f;
    }

    [Theory]
    [InlineData("happy < 0.2", "happy", "<", 0.2f)]
    [InlineData("angry+disgust+fear+sad > 0.6", "angry+disgust+fear+sad", ">", 0.6f)]
    [InlineData("  Detector   >=   0.5 ", "detector", ">=", 0.5f)]
    public void TryParse_ValidCondition_ReadsQuantityOpThreshold(string text, string quantity, string op, float threshold)
    {
        Assert.True(FlagCondition.TryParse(text, out var c, out var error), error);
        Assert.Equal(quantity, c!.Quantity);
        Assert.Equal(op, c.Op);
        Assert.Equal(threshold, c.Threshold);
    }

    [Theory]
    [InlineData("happy<0.2", "QUANTITY OP NUMBER")]
    [InlineData("happy == 0.2", "operator")]
    [InlineData("happy < 2", "[0, 1]")]
    [InlineData("joy < 0.2", "unknown quantity 'joy'")]
    public void TryParse_InvalidCondition_SaysWhatIsWrong(string text, string expected)
    {
        Assert.False(FlagCondition.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Measure_SumOfClasses_AddsTheirProbabilities()
    {
        FlagCondition.TryParse("angry+sad > 0.6", out var c, out _);
        Assert.Equal(0.7f, c!.Measure(Face(0.1f, sad: 0.3f, angry: 0.4f)), 5);
    }

    [Fact]
    public void Evaluate_ConditionHeldForDuration_FlagsOnlyAfterDurationAndResetsWhenBroken()
    {
        var evaluator = new FlagEvaluator(new FlagOptions { Rules = [new() { Name = "unhappy", When = "happy < 0.2", For = TimeSpan.FromSeconds(3) }] });
        var track = new FaceTracker.Track(1, evaluator.RuleCount);

        Assert.Equal("", evaluator.Evaluate(Face(0.1f), track, T0));
        Assert.Equal("", evaluator.Evaluate(Face(0.1f), track, T0.AddSeconds(2.9)));
        Assert.Equal("unhappy: happy 0.1 < 0.2 for 3.0 s", evaluator.Evaluate(Face(0.1f), track, T0.AddSeconds(3)));
        Assert.Equal("", evaluator.Evaluate(Face(0.5f), track, T0.AddSeconds(3.5)));
        Assert.Equal("", evaluator.Evaluate(Face(0.1f), track, T0.AddSeconds(4)));
        Assert.Equal("", evaluator.Evaluate(Face(0.1f), track, T0.AddSeconds(6.9)));
        Assert.StartsWith("unhappy:", evaluator.Evaluate(Face(0.1f), track, T0.AddSeconds(7)), StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_SeveralRulesFire_ReasonNamesEach()
    {
        var evaluator = new FlagEvaluator(new FlagOptions
        {
            Rules =
            [
                new() { Name = "negative", When = "angry+disgust+fear+sad > 0.6" },
                new() { Name = "low-confidence", When = "detector < 0.6" },
                new() { Name = "unhappy", When = "happy < 0.2", For = TimeSpan.FromSeconds(3) },
            ],
        });
        var track = new FaceTracker.Track(1, evaluator.RuleCount);

        var reason = evaluator.Evaluate(Face(0.05f, sad: 0.5f, angry: 0.3f, detector: 0.4f), track, T0);

        Assert.Equal("negative: angry+disgust+fear+sad 0.8 > 0.6; low-confidence: detector 0.4 < 0.6", reason);
    }

    [Fact]
    public void Validate_BadRule_NamesTheRuleKey()
    {
        var result = new FlagOptionsValidator().Validate(null, new FlagOptions
        {
            Rules = [new() { Name = "a", When = "happy < 0.2" }, new() { Name = "a", When = "smile > 0.5", For = TimeSpan.FromHours(2) }],
        });

        Assert.True(result.Failed);
        Assert.Contains("Flags:Rules:1:Name 'a' is used by an earlier rule", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Flags:Rules:1:When unknown quantity 'smile'", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Flags:Rules:1:For", result.FailureMessage, StringComparison.Ordinal);
    }
}
