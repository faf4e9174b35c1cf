using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Explain.Adaptation;

/// <summary>
/// The frozen features of a conv → spatial-mean head: for input X [C, H, W] and a k_h × k_w kernel, feature
/// (c, dy, dx) is the mean over the output positions of the (zero-padded) input value under that kernel tap.
/// The head's logit k is then exactly Σ W[k, c, dy, dx]·φ[c, dy, dx] + B[k], whatever the padding and stride.
/// </summary>
internal static class HeadFeatures
{
    public static float[][] Compute(OrtEnvironment env, ScoringGraph graph, NodeProto head, IReadOnlyList<float[]> crops, CancellationToken cancellationToken)
    {
        var kernel = Ints(head, "kernel_shape") ?? throw new InvalidDataException($"head Conv '{head.Name}' has no kernel_shape");
        var strides = Ints(head, "strides") ?? [1, 1];
        var pads = Ints(head, "pads") ?? [0, 0, 0, 0];
        var dil = Ints(head, "dilations") ?? [1, 1];
        var group = head.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        var autoPad = head.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        if (kernel.Length != 2 || group != 1 || dil.Any(d => d != 1) || autoPad is not ("NOTSET" or ""))
        {
            throw new InvalidDataException($"head Conv '{head.Name}' must be a plain 2-D convolution (group 1, no dilation, explicit pads)");
        }

        var (kh, kw) = ((int)kernel[0], (int)kernel[1]);
        var input = head.Input[0];
        var rows = new List<float[]>(crops.Count);
        ScoringGraph.Run(env, ScoringGraph.WithOutputs(graph.Model, [input]), graph.InputName, crops, [input], outs =>
        {
            var x = outs[0];
            var (n, c, h, w) = ((int)x.Shape[0], (int)x.Shape[1], (int)x.Shape[2], (int)x.Shape[3]);
            var ho = ((h + (int)pads[0] + (int)pads[2] - kh) / (int)strides[0]) + 1;
            var wo = ((w + (int)pads[1] + (int)pads[3] - kw) / (int)strides[1]) + 1;
            var d = x.AsFloat();
            for (var b = 0; b < n; b++)
            {
                var phi = new float[c * kh * kw];
                for (var ch = 0; ch < c; ch++)
                {
                    var plane = d.AsSpan(((b * c) + ch) * h * w, h * w);
                    for (var dy = 0; dy < kh; dy++)
                    {
                        for (var dx = 0; dx < kw; dx++)
                        {
                            double s = 0;
                            for (var oy = 0; oy < ho; oy++)
                            {
                                var iy = (oy * (int)strides[0]) - (int)pads[0] + dy;
                                if (iy < 0 || iy >= h)
                                {
                                    continue;
                                }

                                for (var ox = 0; ox < wo; ox++)
                                {
                                    var ix = (ox * (int)strides[1]) - (int)pads[1] + dx;
                                    if (ix >= 0 && ix < w)
                                    {
                                        s += plane[(iy * w) + ix];
                                    }
                                }
                            }

                            phi[(((ch * kh) + dy) * kw) + dx] = (float)(s / (ho * wo));
                        }
                    }
                }

                rows.Add(phi);
            }
        }, cancellationToken);
        return [.. rows];
    }

    private static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : null;
}
