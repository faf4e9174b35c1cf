using Edge.Onnx.Lrp;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Tests.Lrp;

public sealed class LrpCompilerTests(LrpRuntimeFixture ort) : IClassFixture<LrpRuntimeFixture>
{
    private static readonly int[] ImageShape = [1, 1, 12, 12];

    public static TheoryData<string, LrpConvRule, LrpMaxPoolRule, LrpAddRule> ResidualRules => new()
    {
        { "gamma+winner", LrpConvRule.Gamma, LrpMaxPoolRule.Winner, LrpAddRule.Signed },
        { "zplus+zpool", LrpConvRule.ZPlus, LrpMaxPoolRule.Z, LrpAddRule.Signed },
        { "epsilon+winner", LrpConvRule.Epsilon, LrpMaxPoolRule.Winner, LrpAddRule.Signed },
        { "zplus+winner+abs-add", LrpConvRule.ZPlus, LrpMaxPoolRule.Winner, LrpAddRule.Absolute },
    };

    [Theory]
    [MemberData(nameof(ResidualRules))]
    public void Compile_ResidualConvNet_MatchesReference(string name, LrpConvRule conv, LrpMaxPoolRule pool, LrpAddRule add)
    {
        var options = new LrpOptions { ConvRule = conv, MaxPoolRule = pool, AddRule = add };
        var model = LrpTestGraphs.Residual(seed: 7);
        var input = LrpTestGraphs.Random(new Random(3), 144);
        AssertMatchesReference(model, options, input, ImageShape, OneHot(5, 2), name);
    }

    [Fact]
    public void Compile_NhwcInputBehindTranspose_MatchesReference()
    {
        var model = LrpTestGraphs.Residual(seed: 8, nhwc: true);
        var input = LrpTestGraphs.Random(new Random(4), 144);
        AssertMatchesReference(model, new LrpOptions(), input, [1, 12, 12, 1], OneHot(5, 1), "nhwc");
    }

    [Fact]
    public void Compile_DenseLayers_MatchesReference()
    {
        var model = LrpTestGraphs.Dense(seed: 9);
        var input = LrpTestGraphs.Random(new Random(5), 16);
        AssertMatchesReference(model, new LrpOptions(), input, [1, 1, 4, 4], OneHot(3, 0), "dense");
    }

    [Theory]
    [InlineData(LrpProjection.Direct, true, true)]
    [InlineData(LrpProjection.Guided, true, true)]
    [InlineData(LrpProjection.Direct, false, true)]
    [InlineData(LrpProjection.Guided, false, true)]
    [InlineData(LrpProjection.Direct, true, false)]
    [InlineData(LrpProjection.Guided, true, false)]
    public void Compile_ReducedMode_MatchesReferenceAndStopsAtLastResidualAdd(LrpProjection projection, bool bothBranches, bool strideOne)
    {
        var model = LrpTestGraphs.Residual(seed: 10);
        var options = new LrpOptions { Mode = LrpMode.Reduced, Projection = projection, ProjectBothBranches = bothBranches, ProjectStrideOneWindows = strideOne };
        var compiled = LrpCompiler.Compile(model, options);
        var addOutput = model.Graph.Node.Single(n => n.OpType == "Add").Output[0];
        Assert.Equal(addOutput, compiled.StoppedAt);
        var input = LrpTestGraphs.Random(new Random(6), 144);
        AssertMatchesReference(model, options with { StopAt = addOutput }, input, ImageShape, OneHot(5, 4), $"reduced {projection}, both branches {bothBranches}, stride-1 windows {strideOne}");
    }

    [Fact]
    public void Compile_ReducedModeBothBranches_ShortcutBranchChangesTheMap()
    {
        // The shortcut is a 1×1 stride-2 Conv from the first Relu: projected through both branches, its share of the
        // Add's relevance lands on that Relu's stride grid; on one branch the max-pool branch gets it all.
        var model = LrpTestGraphs.Residual(seed: 10);
        var input = LrpTestGraphs.Random(new Random(6), 144);
        var one = ort.Run(LrpCompiler.Compile(model, new LrpOptions { Mode = LrpMode.Reduced, ProjectBothBranches = false }), input, OneHot(5, 4), 1).Map;
        var both = ort.Run(LrpCompiler.Compile(model, new LrpOptions { Mode = LrpMode.Reduced }), input, OneHot(5, 4), 1).Map;
        Assert.True(one.Zip(both, (a, b) => Math.Abs(a - b)).Max() > 1e-3f * both.Max(Math.Abs), "both-branch projection equals the one-branch projection");
    }

    [Fact]
    public void Compile_ReducedDirect_StopAtTheInputLayer_UsesItsRuleAlone()
    {
        // Without a residual Add the default stop is the middle convolution, here the input layer itself: nothing to project.
        var model = LrpTestGraphs.ZeroSumKernels(seed: 22);
        var options = new LrpOptions { Mode = LrpMode.Reduced };
        var compiled = LrpCompiler.Compile(model, options);
        Assert.Equal(model.Graph.Node.First(n => n.OpType == "Conv").Output[0], compiled.StoppedAt);
        AssertMatchesReference(model, options, LrpTestGraphs.Random(new Random(7), 256), [1, 1, 16, 16], OneHot(3, 1), "reduced direct, stop at the input layer");
    }

    [Fact]
    public void Compile_ReducedDirect_PathWeightsTooLarge_SaysWhatToDo()
    {
        var model = LrpTestGraphs.ZeroSumKernels(seed: 22, size: 48);
        var stop = model.Graph.Node.Last(n => n.OpType == "Conv").Output[0];
        var ex = Assert.Throws<InvalidOperationException>(() => LrpCompiler.Compile(model, new LrpOptions { Mode = LrpMode.Reduced, StopAt = stop }));
        Assert.Contains("2304×2304", ex.Message, StringComparison.Ordinal);
        Assert.Contains("guided", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ZeroTargetRow_ExplainsTopClass()
    {
        var model = LrpTestGraphs.Residual(seed: 11);
        var compiled = LrpCompiler.Compile(model);
        var input = LrpTestGraphs.Random(new Random(12), 144);
        var probe = ort.Run(compiled, input, [.. OneHot(5, 0), .. OneHot(5, 1)], 2);
        var top = Array.IndexOf(probe.Logits, probe.Logits.Max());
        var both = ort.Run(compiled, input, [.. new float[5], .. OneHot(5, top)], 2);
        var pixels = compiled.MapHeight * compiled.MapWidth;
        Assert.Equal(both.Map.AsSpan(pixels, pixels).ToArray(), both.Map.AsSpan(0, pixels).ToArray());
        Assert.True(both.Map.Take(pixels).Any(v => v != 0), "the top-class map is all zeros");
    }

    [Fact]
    public void Run_TwoClassesInOneRun_EachMatchesItsSingleRun()
    {
        var model = LrpTestGraphs.Residual(seed: 13);
        var compiled = LrpCompiler.Compile(model);
        var input = LrpTestGraphs.Random(new Random(14), 144);
        var pair = ort.Run(compiled, input, [.. OneHot(5, 3), .. OneHot(5, 0)], 2);
        var single = ort.Run(compiled, input, OneHot(5, 0), 1);
        var pixels = compiled.MapHeight * compiled.MapWidth;
        AssertClose(single.Map, pair.Map.AsSpan(pixels, pixels).ToArray(), "second row");
    }

    [Theory]
    [InlineData(LrpConvRule.Gamma, LrpMaxPoolRule.Winner)]
    [InlineData(LrpConvRule.Gamma, LrpMaxPoolRule.Z)]
    [InlineData(LrpConvRule.Epsilon, LrpMaxPoolRule.Winner)]
    public void Run_NoBiasesTinyEpsilon_RelevanceSumsToLogit(LrpConvRule conv, LrpMaxPoolRule pool)
    {
        // Not z⁺: it drops the relevance of a unit with no positive contribution (a max-pool winner can be such a unit).
        var model = LrpTestGraphs.Residual(seed: 15, biases: false);
        var compiled = LrpCompiler.Compile(model, new LrpOptions { ConvRule = conv, MaxPoolRule = pool, Epsilon = 1e-9f, Stabilizer = 1e-12f });
        foreach (var seed in new[] { 16, 17, 18 })
        {
            var input = LrpTestGraphs.Random(new Random(seed), 144);
            var cls = seed % 5;
            var result = ort.Run(compiled, input, OneHot(5, cls), 1);
            var sum = result.Map.Sum();
            var logit = result.Logits[cls];
            Assert.True(Math.Abs(sum - logit) <= 0.01f * Math.Abs(logit), $"seed {seed}: relevance sum {sum} vs logit {logit}");
        }
    }

    [Fact]
    public void Run_DenseNoBiasesTinyEpsilon_RelevanceSumsToLogit()
    {
        var compiled = LrpCompiler.Compile(LrpTestGraphs.Dense(seed: 19, biases: false), new LrpOptions { Epsilon = 1e-9f });
        var input = LrpTestGraphs.Random(new Random(20), 16);
        var result = ort.Run(compiled, input, OneHot(3, 1), 1);
        Assert.True(Math.Abs(result.Map.Sum() - result.Logits[1]) <= 0.01f * Math.Abs(result.Logits[1]), $"{result.Map.Sum()} vs {result.Logits[1]}");
    }

    [Fact]
    public void Run_ConstantPatchUnderZeroSumKernels_ZeroRelevanceInside()
    {
        // A constant patch makes every zero-sum 3×3 kernel output exactly 0 there; ReLU keeps it 0, so the next
        // layer (R_in = a ⊙ c) gives those units no relevance, and z^B can only hand pixels relevance of units that have it.
        var compiled = LrpCompiler.Compile(LrpTestGraphs.ZeroSumKernels(seed: 21));
        var rng = new Random(22);
        var input = LrpTestGraphs.Random(rng, 256);
        for (var y = 4; y < 12; y++)
        {
            for (var x = 4; x < 12; x++)
            {
                input[(y * 16) + x] = 0.3f;
            }
        }

        var result = ort.Run(compiled, input, OneHot(3, 0), 1);
        var outside = 0f;
        for (var y = 0; y < 16; y++)
        {
            for (var x = 0; x < 16; x++)
            {
                var v = Math.Abs(result.Map[(y * 16) + x]);
                if (y is >= 6 and < 10 && x is >= 6 and < 10)
                {
                    Assert.True(v < 1e-6f, $"pixel ({y},{x}) inside the constant patch has relevance {v}");
                }
                else
                {
                    outside = Math.Max(outside, v);
                }
            }
        }

        Assert.True(outside > 1e-3f, "the map is zero everywhere, so the test proves nothing");
    }

    [Fact]
    public void Run_OneDenseLayer_GivesClosedForm()
    {
        var rng = new Random(23);
        var w = LrpTestGraphs.Random(rng, 24);
        var bias = LrpTestGraphs.Random(rng, 4, 0.3f);
        var eps = 0.05f;
        var compiled = LrpCompiler.Compile(LrpTestGraphs.OneGemm(w, bias), new LrpOptions { Epsilon = eps });
        var x = LrpTestGraphs.Random(rng, 6);
        const int cls = 2;
        var result = ort.Run(compiled, x, OneHot(4, cls), 1);
        var z = bias[cls] + Enumerable.Range(0, 6).Sum(i => x[i] * w[(i * 4) + cls]);
        for (var i = 0; i < 6; i++)
        {
            var expected = x[i] * w[(i * 4) + cls] * z / (z + (z >= 0 ? eps : -eps));
            Assert.Equal(expected, result.Map[i], 5);
        }
    }

    [Fact]
    public void Run_OneConvInputLayer_GivesZBetaClosedForm()
    {
        var rng = new Random(24);
        var w = LrpTestGraphs.Random(rng, 12);
        var bias = LrpTestGraphs.Random(rng, 3, 0.3f);
        var compiled = LrpCompiler.Compile(LrpTestGraphs.OneConv(w, bias), new LrpOptions { InputLow = -1, InputHigh = 1 });
        float[] x = [0.5f, -0.25f, 0.9f, -1f];
        const int cls = 1;
        var result = ort.Run(compiled, x, OneHot(3, cls), 1);
        var logit = bias[cls] + Enumerable.Range(0, 4).Sum(i => x[i] * w[(cls * 4) + i]);
        var parts = Enumerable.Range(0, 4).Select(i =>
        {
            var wi = w[(cls * 4) + i];
            return (x[i] * wi) - (-1f * Math.Max(wi, 0)) - (1f * Math.Min(wi, 0));
        }).ToArray();
        var total = parts.Sum();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(parts[i] / total * logit, result.Map[i], 5);
        }
    }

    [Fact]
    public void Compile_ConvFollowedByBatchNorm_EqualsManuallyFoldedConv()
    {
        var withBn = LrpTestGraphs.Residual(seed: 25, batchNorm: true);
        var input = LrpTestGraphs.Random(new Random(26), 144);
        AssertMatchesReference(withBn, new LrpOptions(), input, ImageShape, OneHot(5, 3), "batch-norm");
        Assert.DoesNotContain(LrpCompiler.Compile(withBn).Model.Graph.Node, n => n.OpType == "BatchNormalization");
    }

    [Fact]
    public void Compile_UnknownOperator_RefusedWithOpName()
    {
        var ex = Assert.Throws<LrpUnsupportedOperatorException>(() => LrpCompiler.Compile(LrpTestGraphs.WithLeakyRelu()));
        Assert.Equal("LeakyRelu", ex.OperatorName);
        Assert.Contains("LeakyRelu", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_CompiledGraph_KeepsTheModelScores()
    {
        var model = LrpTestGraphs.Residual(seed: 27);
        var input = LrpTestGraphs.Random(new Random(28), 144);
        var reference = new ReferenceLrp(model, new LrpOptions());
        reference.Explain(input, ImageShape, OneHot(5, 0));
        var result = ort.Run(LrpCompiler.Compile(model), input, OneHot(5, 0), 1);
        var max = reference.Logits.Max();
        var expSum = reference.Logits.Sum(l => MathF.Exp(l - max));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(MathF.Exp(reference.Logits[i] - max) / expSum, result.Scores[i], 4);
        }
    }

    internal static float[] OneHot(int n, int i)
    {
        var v = new float[n];
        v[i] = 1;
        return v;
    }

    private void AssertMatchesReference(ModelProto model, LrpOptions options, float[] input, int[] shape, float[] target, string what)
    {
        var compiled = LrpCompiler.Compile(model, options);
        var got = ort.Run(compiled, input, target, 1);
        var expected = new ReferenceLrp(model, options with { StopAt = compiled.StoppedAt }).Explain(input, shape, target);
        AssertClose(expected, got.Map, what);
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var max = expected.Max(Math.Abs);
        Assert.True(max > 0, $"{what}: the reference map is all zeros");
        var diff = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(diff <= 1e-4f * max, $"{what}: max abs diff {diff} > 1e-4 × map max {max}");
    }
}
