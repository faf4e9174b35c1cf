using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Explain.Adaptation;

/// <summary>What <see cref="SiteAdapter.Adapt"/> changes and how hard.</summary>
public sealed record AdaptationOptions
{
    /// <summary>
    /// Re-normalise every feature convolution (AdaBN): a per-channel affine map, folded into the Conv's own
    /// weight and bias, that gives the site's pre-activation statistics the reference mean and spread. Needs no labels.
    /// </summary>
    public bool Renormalise { get; init; } = true;

    /// <summary>Refit the classifier Conv on the frozen (re-normalised) features; needs labels. Default: when labels are given.</summary>
    public bool? RefitHead { get; init; }

    /// <summary>Re-normalise only the first N feature convolutions (the early, low-level ones); null = all.</summary>
    public int? RenormaliseLayers { get; init; }

    /// <summary>Per-channel scale limits of the re-normalisation (a channel never shrinks or grows more than this). Default 4.</summary>
    public float MaxScale { get; init; } = 4f;

    /// <summary>L2 pull of the refitted head towards the pre-trained one (per example). Default 0.05.</summary>
    public float HeadL2 { get; init; } = 0.05f;

    /// <summary>Full-batch Adam steps of the head refit. Default 400.</summary>
    public int HeadIterations { get; init; } = 400;

    /// <summary>Adam step size of the head refit. Default 0.01.</summary>
    public float HeadLearningRate { get; init; } = 0.01f;

    public void Validate()
    {
        if (!(MaxScale >= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxScale), MaxScale, "must be ≥ 1");
        }

        if (RenormaliseLayers is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RenormaliseLayers), RenormaliseLayers, "must be ≥ 1");
        }

        if (!(HeadL2 >= 0f) || HeadIterations < 1 || !(HeadLearningRate > 0f))
        {
            throw new ArgumentOutOfRangeException(nameof(HeadL2), "HeadL2 must be ≥ 0, HeadIterations ≥ 1, HeadLearningRate > 0");
        }
    }
}

/// <summary>How one feature convolution was re-normalised.</summary>
public sealed record LayerAdjustment(string Tensor, int Channels, double MeanAbsLogScale, double MeanAbsShiftInSourceSd, int ClampedChannels);

/// <summary>What the head refit did (losses and accuracies on the labelled site images).</summary>
public sealed record HeadRefit(int Examples, int Features, double LossBefore, double LossAfter, double AccuracyBefore, double AccuracyAfter);

/// <summary>The adapted model and what was changed.</summary>
public sealed record AdaptationResult(ModelProto Model, IReadOnlyList<LayerAdjustment> Layers, HeadRefit? Head);

/// <summary>
/// Site adaptation that keeps the pre-trained features: (1) AdaBN-style re-normalisation — the emotion model's
/// batch-norms were folded into its convolutions, so each feature Conv gets a per-channel affine map
/// y' = a·y + b, estimated layer by layer in graph order (each layer sees the already adapted layers before it)
/// so that the site images' pre-activation mean and standard deviation match those of a reference set of clean
/// public faces, and folded back into the Conv (W' = a·W, B' = a·B + b): the graph keeps its exact structure
/// and op set, so the LRP compiler and the quantizer take it unchanged. (2) With labels, the classifier Conv
/// (conv → spatial mean → softmax) is refitted as a multinomial logistic regression on the frozen features
/// (the spatial means of its input patches, which make its logits exactly linear), with an L2 pull towards
/// the pre-trained weights so a few hundred images cannot wreck it.
/// </summary>
public static class SiteAdapter
{
    public static AdaptationResult Adapt(
        OrtEnvironment env,
        ModelProto parent,
        IReadOnlyList<float[]> reference,
        IReadOnlyList<float[]> site,
        IReadOnlyList<int>? labels,
        AdaptationOptions options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (site.Count < 2)
        {
            throw new ArgumentException("at least two site images are needed", nameof(site));
        }

        var refit = options.RefitHead ?? labels is not null;
        if (refit && (labels is null || labels.Count != site.Count))
        {
            throw new ArgumentException("a head refit needs one label per site image", nameof(labels));
        }

        var graph = ScoringGraph.Read(parent.Clone());
        var layers = new List<LayerAdjustment>();
        if (options.Renormalise)
        {
            if (reference.Count < 2)
            {
                throw new ArgumentException("re-normalisation needs at least two reference images", nameof(reference));
            }

            layers.AddRange(Renormalise(env, graph, reference, site, options, cancellationToken));
        }

        HeadRefit? head = null;
        if (refit)
        {
            head = RefitHead(env, graph, site, labels!, options, cancellationToken);
        }

        return new AdaptationResult(graph.Model, layers, head);
    }

    /// <summary>How many feature convolutions (every Conv but the classifier head) the model has.</summary>
    public static int FeatureLayerCount(ModelProto model) => ScoringGraph.Read(model).FeatureConvs.Count;

    /// <summary>Softmax scores of a model for each crop (rows of <see cref="Expressions.Count"/>).</summary>
    public static float[][] Score(OrtEnvironment env, ModelProto model, IReadOnlyList<float[]> crops, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = ScoringGraph.Read(model);
        var output = model.Graph.Output[0].Name;
        var rows = new List<float[]>(crops.Count);
        ScoringGraph.Run(env, OnnxModel.ToBytes(model), g.InputName, crops, [output], outs =>
        {
            var t = outs[0];
            var k = (int)t.Shape[^1];
            var d = t.AsFloat();
            for (var i = 0; i < t.Shape[0]; i++)
            {
                rows.Add(d.AsSpan(i * k, k).ToArray());
            }
        }, cancellationToken);
        return [.. rows];
    }

    private static List<LayerAdjustment> Renormalise(OrtEnvironment env, ScoringGraph graph, IReadOnlyList<float[]> reference, IReadOnlyList<float[]> site, AdaptationOptions options, CancellationToken cancellationToken)
    {
        var convs = graph.FeatureConvs.Take(options.RenormaliseLayers ?? int.MaxValue).ToList();
        var names = convs.Select(c => c.Output[0]).ToList();
        var source = ChannelStats(env, graph.Model, graph.InputName, reference, names, cancellationToken);
        var result = new List<LayerAdjustment>(names.Count);
        foreach (var conv in convs)
        {
            var name = conv.Output[0];
            var target = ChannelStats(env, graph.Model, graph.InputName, site, [name], cancellationToken)[name];
            var src = source[name];
            var (w, dims, bias) = graph.ReadConv(conv);
            var outC = bias.Length;
            var per = w.Length / outC;
            double logSum = 0, shiftSum = 0;
            var clamped = 0;
            for (var c = 0; c < outC; c++)
            {
                double a;
                if (src.Sd[c] < 1e-6 || target.Sd[c] < 1e-6)
                {
                    a = 1;
                }
                else
                {
                    a = src.Sd[c] / target.Sd[c];
                    if (a > options.MaxScale || a < 1 / options.MaxScale)
                    {
                        clamped++;
                        a = Math.Clamp(a, 1 / options.MaxScale, options.MaxScale);
                    }
                }

                var b = src.Mean[c] - (a * target.Mean[c]);
                for (var j = 0; j < per; j++)
                {
                    w[(c * per) + j] = (float)(w[(c * per) + j] * a);
                }

                bias[c] = (float)((bias[c] * a) + b);
                logSum += Math.Abs(Math.Log(a));
                shiftSum += Math.Abs(src.Mean[c] - target.Mean[c]) / Math.Max(src.Sd[c], 1e-6);
            }

            graph.WriteConv(conv, w, dims, bias);
            result.Add(new LayerAdjustment(name, outC, logSum / outC, shiftSum / outC, clamped));
        }

        return result;
    }

    internal sealed record Stats(double[] Mean, double[] Sd);

    /// <summary>Per-channel mean and standard deviation (over images and positions) of NCHW tensors.</summary>
    internal static Dictionary<string, Stats> ChannelStats(OrtEnvironment env, ModelProto model, string input, IReadOnlyList<float[]> crops, IReadOnlyList<string> tensors, CancellationToken cancellationToken)
    {
        var sums = new Dictionary<string, (double[] S, double[] Q, long N)>(StringComparer.Ordinal);
        ScoringGraph.Run(env, ScoringGraph.WithOutputs(model, tensors), input, crops, tensors, outs =>
        {
            for (var t = 0; t < tensors.Count; t++)
            {
                var x = outs[t];
                if (x.Shape.Length != 4)
                {
                    throw new InvalidDataException($"'{tensors[t]}' is {x.Shape.Length}-D; re-normalisation expects NCHW feature maps");
                }

                var c = (int)x.Shape[1];
                var hw = (int)(x.Shape[2] * x.Shape[3]);
                if (!sums.TryGetValue(tensors[t], out var acc))
                {
                    acc = (new double[c], new double[c], 0);
                }

                var d = x.AsFloat();
                for (var b = 0; b < x.Shape[0]; b++)
                {
                    for (var ch = 0; ch < c; ch++)
                    {
                        double s = 0, q = 0;
                        var span = d.AsSpan(((b * c) + ch) * hw, hw);
                        foreach (var v in span)
                        {
                            s += v;
                            q += (double)v * v;
                        }

                        acc.S[ch] += s;
                        acc.Q[ch] += q;
                    }
                }

                sums[tensors[t]] = (acc.S, acc.Q, acc.N + (x.Shape[0] * hw));
            }
        }, cancellationToken);

        return sums.ToDictionary(
            kv => kv.Key,
            kv =>
            {
                var (s, q, n) = kv.Value;
                var mean = s.Select(v => v / n).ToArray();
                var sd = q.Select((v, i) => Math.Sqrt(Math.Max(0, (v / n) - (mean[i] * mean[i])))).ToArray();
                return new Stats(mean, sd);
            },
            StringComparer.Ordinal);
    }

    private static HeadRefit RefitHead(OrtEnvironment env, ScoringGraph graph, IReadOnlyList<float[]> site, IReadOnlyList<int> labels, AdaptationOptions options, CancellationToken cancellationToken)
    {
        var head = graph.Head ?? throw new InvalidDataException("the model does not end in Conv → spatial mean → Softmax, so its head cannot be refitted on frozen features");
        var (w, dims, bias) = graph.ReadConv(head);
        var features = HeadFeatures.Compute(env, graph, head, site, cancellationToken);
        var fit = SoftmaxRegression.Train(features, labels, w, bias, options.HeadL2, options.HeadIterations, options.HeadLearningRate, cancellationToken);
        graph.WriteConv(head, fit.Weight, dims, fit.Bias);
        return new HeadRefit(site.Count, features[0].Length, fit.LossBefore, fit.LossAfter, fit.AccuracyBefore, fit.AccuracyAfter);
    }
}
