using Edge.Explain;
using Edge.Host.Options;
using Edge.Host.Pipeline;

namespace Edge.Host.Tests;

public sealed class ExplainPolicyTests
{
    [Theory]
    [InlineData(ExplainMode.None, "FFFFFF")]
    [InlineData(ExplainMode.All, "TTTTTT")]
    [InlineData(ExplainMode.Flagged, "FTFFFT")]
    [InlineData(ExplainMode.Sampled, "TTFTFT")]
    public void ShouldExplain_Mode_PicksFaces(ExplainMode mode, string expected)
    {
        var policy = new ExplainPolicy(new PipelineOptions { Explain = mode, ExplainEvery = 3 });
        bool[] flagged = [false, true, false, false, false, true];

        var picked = string.Concat(flagged.Select(f => policy.ShouldExplain(f) ? 'T' : 'F'));

        Assert.Equal(expected, picked);
    }

    [Fact]
    public void Targets_TopAndFixedClass_NoDuplicates()
    {
        var policy = new ExplainPolicy(new PipelineOptions { ExplainTargets = ["top", "happy", "sad"] });
        var face = new FaceResult();
        ScriptedAnalyzer.Scores(happy: 0.7f, sad: 0.2f).CopyTo(face.Scores, 0);
        var targets = new List<int>();

        policy.Targets(face, targets);

        Assert.Equal([Expressions.IndexOf("happy"), Expressions.IndexOf("sad")], targets);
    }
}
