using System.Globalization;
using Edge.Explain;
using Edge.Explain.Explanations;
using Edge.Explain.Heatmaps;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary>
/// <c>edge explain verify FOLDER</c>: faithfulness by occlusion (pixel-flipping on patches, Samek et al. 2017).
/// For every face the crop is cut into patches; patches are occluded (set to mid-grey, 0 after normalisation)
/// most-relevant first, one more per step, and the target logit is re-scored. AOPC = mean over steps 0..L of
/// (logit before − logit after). Orders compared: LRP, gradient × input (compiled by the same compiler as
/// ε-LRP with ε → 0, signed residual split, winner max-pool and no z^B, which equals gradient × input for
/// this ReLU network), and random orders. Higher AOPC = the ranking found the evidence the model uses.
/// </summary>
internal static class ExplainVerifyCommand
{
    private const int RandomOrders = 5;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var parsed = ExplainArguments.Parse(args, "explain verify");
        if (parsed.Error is { } error)
        {
            Console.Error.WriteLine(error);
            return 2;
        }

        if (parsed.Inputs.Count == 0)
        {
            Console.Error.WriteLine(ExplainCommand.Usage);
            return 2;
        }

        ExplainPipeline pipeline;
        FaceExplainer gradient;
        FaceExplainer? full;
        try
        {
            pipeline = ExplainPipeline.Create(parsed, 1);
            var model = OnnxModel.Load(pipeline.ScorerPath);
            gradient = FaceExplainer.Create(pipeline.Environment, model, GradientTimesInput, 1);
            full = parsed.Mode == LrpMode.Reduced ? FaceExplainer.Create(pipeline.Environment, model, parsed.Lrp with { Mode = LrpMode.Full }, 1) : null;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or DllNotFoundException or OrtException or NotSupportedException)
        {
            Console.Error.WriteLine($"edge explain verify: {e.Message}");
            return 1;
        }

        var happy = Expressions.IndexOf("happy");
        var size = pipeline.Explainer.Compiled.MapWidth;
        var aopc = new List<double>[3];
        for (var m = 0; m < 3; m++)
        {
            aopc[m] = [];
        }

        var fullR = new List<double>();
        var mouthLrp = new List<double>();
        var mouthGrad = new List<double>();
        var densestAtMouth = new int[2];
        var rng = new Random(20261122);
        var faces = 0;
        using (pipeline)
        using (gradient)
        using (full)
        {
            var scores = new float[Expressions.Count];
            var logits = new float[Expressions.Count];
            var lrp = new float[pipeline.Explainer.MapPixels];
            var grad = new float[pipeline.Explainer.MapPixels];
            var scratch = new float[pipeline.Explainer.MapPixels];
            var fullMap = new float[pipeline.Explainer.MapPixels];
            foreach (var image in ScoreCommand.Expand(parsed.Inputs))
            {
                IReadOnlyList<CroppedFace> crops;
                try
                {
                    crops = await pipeline.CropFacesAsync(image, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidDataException e)
                {
                    Console.Error.WriteLine($"{image}: error: {e.Message}");
                    continue;
                }

                foreach (var (crop, mouthPoint) in crops)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    faces++;
                    pipeline.Explainer.Explain(crop, [FaceExplainer.TopClass], scores, logits, lrp);
                    var target = Array.IndexOf(scores, scores.Max());
                    var smiling = target == happy && scores[happy] > 0.5f;
                    if (full is not null)
                    {
                        full.Explain(crop, [target], scores, logits, fullMap);
                        fullR.Add(HeatmapCodec.Correlation(lrp, fullMap));
                    }

                    gradient.Explain(crop, [target], scores, logits, grad);
                    float Logit(float[] x)
                    {
                        gradient.Explain(x, [target], scores, logits, scratch);
                        return logits[target];
                    }

                    var lrpOrder = PatchOrder(lrp, size, parsed.Patch);
                    var gradOrder = PatchOrder(grad, size, parsed.Patch);
                    aopc[0].Add(Aopc(crop, lrpOrder, size, parsed.Patch, parsed.Steps, Logit));
                    aopc[1].Add(Aopc(crop, gradOrder, size, parsed.Patch, parsed.Steps, Logit));
                    var random = 0.0;
                    for (var r = 0; r < RandomOrders; r++)
                    {
                        // Shuffled from patch order, not from the LRP ranking: the baseline must not depend on the rules compared.
                        var order = Enumerable.Range(0, lrpOrder.Length).ToArray();
                        rng.Shuffle(order);
                        random += Aopc(crop, order, size, parsed.Patch, parsed.Steps, Logit) / RandomOrders;
                    }

                    aopc[2].Add(random);
                    if (smiling)
                    {
                        var mouth = MouthRegion.Around(mouthPoint, size);
                        mouthLrp.Add(mouth.PositiveShare(lrp, size));
                        mouthGrad.Add(mouth.PositiveShare(grad, size));
                        densestAtMouth[0] += mouth.Densest(lrp, size).Contains(mouthPoint) ? 1 : 0;
                        densestAtMouth[1] += mouth.Densest(grad, size).Contains(mouthPoint) ? 1 : 0;
                    }
                }
            }
        }

        if (faces == 0)
        {
            Console.Error.WriteLine("edge explain verify: no faces found");
            return 1;
        }

        var o = Console.Out;
        var ic = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(ic, $"faces: {faces} (smiling, happy top with p > 0.5: {mouthLrp.Count}); occlusion: {parsed.Patch}x{parsed.Patch} patches set to mid-grey, {parsed.Steps} steps, target = top class logit"));
        o.WriteLine("  ranking                    AOPC (mean logit drop)   vs random   faces where it beats random");
        string[] names = [$"LRP ({(parsed.Mode == LrpMode.Full ? "full" : "reduced")})", "gradient x input", $"random ({RandomOrders} orders)"];
        for (var m = 0; m < 3; m++)
        {
            var wins = m == 2 ? "" : $"{aopc[m].Zip(aopc[2]).Count(p => p.First > p.Second)}/{faces}";
            o.WriteLine(string.Create(ic, $"  {names[m],-26} {aopc[m].Average(),22:F3} {aopc[m].Average() / aopc[2].Average(),10:F2}x   {wins}"));
        }

        o.WriteLine(string.Create(ic, $"  LRP vs gradient x input: {aopc[0].Average() / aopc[1].Average():F2}x AOPC; LRP beats it on {aopc[0].Zip(aopc[1]).Count(p => p.First > p.Second)}/{faces} faces"));
        if (mouthLrp.Count > 0)
        {
            o.WriteLine(string.Create(ic, $"  mouth region (a box {MouthRegion.WidthShare:P0} x {MouthRegion.HeightShare:P0} of the crop around the detector's mouth keypoint, {MouthRegion.Around(new FacePoint(size / 2f, size / 2f), size).AreaShare(size):P0} of its area): share of positive happy relevance, mean over smiling faces: LRP {mouthLrp.Average():P1}, gradient x input {mouthGrad.Average():P1}"));
            o.WriteLine(string.Create(ic, $"  the box of that size with the most positive happy relevance contains the mouth keypoint on: LRP {densestAtMouth[0]}/{mouthLrp.Count}, gradient x input {densestAtMouth[1]}/{mouthLrp.Count} smiling faces"));
        }

        if (fullR.Count > 0)
        {
            o.WriteLine(string.Create(ic, $"  reduced vs full LRP (same rules, top class): Pearson r mean {fullR.Average():F3}, min {fullR.Min():F3}; at least 0.9 on {fullR.Count(r => r >= 0.9)}/{faces} faces"));
        }

        var beats = aopc[0].Average() > aopc[2].Average() && aopc[0].Average() > aopc[1].Average();
        o.WriteLine(beats ? "  LRP beats random and gradient x input on AOPC." : "  LRP does NOT beat both baselines on AOPC.");
        return beats ? 0 : 3;
    }

    /// <summary>ε-LRP with ε → 0 and plain rules: gradient × input for a ReLU network with max-pool.</summary>
    internal static LrpOptions GradientTimesInput { get; } = new()
    {
        Mode = LrpMode.Full,
        ConvRule = LrpConvRule.Epsilon,
        Epsilon = 1e-7f,
        AddRule = LrpAddRule.Signed,
        MaxPoolRule = LrpMaxPoolRule.Winner,
        InputBounds = false,
    };

    /// <summary>Patch indices sorted by summed relevance, highest first.</summary>
    internal static int[] PatchOrder(float[] map, int size, int patch)
    {
        var per = size / patch;
        var sums = new double[per * per];
        for (var y = 0; y < per * patch; y++)
        {
            for (var x = 0; x < per * patch; x++)
            {
                sums[(y / patch * per) + (x / patch)] += map[(y * size) + x];
            }
        }

        return [.. Enumerable.Range(0, sums.Length).OrderByDescending(i => sums[i]).ThenBy(i => i)];
    }

    /// <summary>Mean over k = 0..steps of f(x) − f(x with the first k patches of <paramref name="order"/> at 0).</summary>
    internal static double Aopc(float[] crop, int[] order, int size, int patch, int steps, Func<float[], float> logit)
    {
        var per = size / patch;
        var x = crop.ToArray();
        var f0 = logit(x);
        var total = 0.0;
        for (var k = 0; k < Math.Min(steps, order.Length); k++)
        {
            var (py, px) = (order[k] / per, order[k] % per);
            for (var y = py * patch; y < (py + 1) * patch; y++)
            {
                Array.Clear(x, (y * size) + (px * patch), patch);
            }

            total += f0 - logit(x);
        }

        return total / (Math.Min(steps, order.Length) + 1);
    }
}
