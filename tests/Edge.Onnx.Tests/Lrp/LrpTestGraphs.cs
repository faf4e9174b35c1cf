using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Tests.Lrp;

/// <summary>Small scoring graphs with the emotion model's op mix, built in C# with seeded random weights.</summary>
internal static class LrpTestGraphs
{
    public static float[] Random(Random rng, int n, float scale = 1f, float shift = 0f) =>
        [.. Enumerable.Range(0, n).Select(_ => (((float)rng.NextDouble() * 2) - 1 + shift) * scale)];

    /// <summary>
    /// Input [1,1,12,12] → Conv 3×3 s1 pads 1 (+bias) → Relu → depthwise 3×3 SAME_UPPER → Conv 1×1 → MaxPool 3×3 s2
    /// SAME_UPPER ┐ + shortcut Conv 1×1 s2 from the first Relu → Add → Relu → Conv 3×3 (6 → classes) → ReduceMean → Softmax.
    /// </summary>
    public static ModelProto Residual(int seed, bool biases = true, int classes = 5, bool nhwc = false, bool batchNorm = false)
    {
        var rng = new Random(seed);
        var b = new OnnxGraphBuilder("residual", 13);
        var x = "input";
        if (nhwc)
        {
            b.AddInput("input", TensorElementType.Float, "N", 12, 12, 1);
            x = b.AddNode("Transpose", ["input"], Attr.Ints("perm", 0, 3, 1, 2));
        }
        else
        {
            b.AddInput("input", TensorElementType.Float, "N", 1, 12, 12);
        }

        string Bias(string name, int n) => biases ? Add(b, name, Random(rng, n, 0.1f), n) : "";
        var c1 = b.AddNode("Conv", Inputs(x, Add(b, "w1", Random(rng, 4 * 9, 0.5f), 4, 1, 3, 3), Bias("b1", 4)), Attr.Ints("pads", 1, 1, 1, 1));
        if (batchNorm)
        {
            c1 = b.AddNode("BatchNormalization", [c1, Add(b, "bn_s", Random(rng, 4, 0.5f, 1.2f), 4), Add(b, "bn_b", Random(rng, 4, 0.2f), 4),
                Add(b, "bn_m", Random(rng, 4, 0.2f), 4), Add(b, "bn_v", Random(rng, 4, 0.3f, 2f), 4)], Attr.Float("epsilon", 1e-3f));
        }

        var r1 = b.AddNode("Relu", [c1]);
        var dw = b.AddNode("Conv", Inputs(r1, Add(b, "wd", Random(rng, 4 * 9, 0.6f), 4, 1, 3, 3), Bias("bd", 4)), Attr.Int("group", 4), Attr.String("auto_pad", "SAME_UPPER"));
        var pw = b.AddNode("Conv", Inputs(dw, Add(b, "wp", Random(rng, 6 * 4, 0.6f), 6, 4, 1, 1), Bias("bp", 6)));
        var mp = b.AddNode("MaxPool", [pw], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.String("auto_pad", "SAME_UPPER"));
        var sc = b.AddNode("Conv", Inputs(r1, Add(b, "ws", Random(rng, 6 * 4, 0.6f), 6, 4, 1, 1), Bias("bs", 6)), Attr.Ints("strides", 2, 2));
        var add = b.AddNode("Add", [mp, sc]);
        var r2 = b.AddNode("Relu", [add]);
        var c3 = b.AddNode("Conv", Inputs(r2, Add(b, "w3", Random(rng, classes * 6 * 9, 0.5f), classes, 6, 3, 3), Bias("b3", classes)), Attr.Ints("pads", 1, 1, 1, 1));
        var mean = b.AddNode("ReduceMean", [c3], Attr.Ints("axes", 2, 3), Attr.Int("keepdims", 0));
        b.AddNode("Softmax", [mean], ["scores"], [Attr.Int("axis", 1)]);
        b.AddOutput("scores", TensorElementType.Float, "N", classes);
        return b.Build();
    }

    /// <summary>Input [1,1,4,4] → Flatten → Gemm(transB) → Relu → MatMul → Add bias → Softmax.</summary>
    public static ModelProto Dense(int seed, bool biases = true)
    {
        var rng = new Random(seed);
        var b = new OnnxGraphBuilder("dense", 13);
        b.AddInput("input", TensorElementType.Float, 1, 1, 4, 4);
        var f = b.AddNode("Flatten", ["input"]);
        var g = b.AddNode("Gemm", Inputs(f, Add(b, "w1", Random(rng, 10 * 16, 0.5f), 10, 16), biases ? Add(b, "b1", Random(rng, 10, 0.2f), 10) : ""), Attr.Int("transB", 1));
        var r = b.AddNode("Relu", [g]);
        var m = b.AddNode("MatMul", [r, Add(b, "w2", Random(rng, 10 * 3, 0.5f), 10, 3)]);
        if (biases)
        {
            m = b.AddNode("Add", [m, Add(b, "b2", Random(rng, 3, 0.2f), 3)]);
        }

        b.AddNode("Softmax", [m], ["scores"], [Attr.Int("axis", 1)]);
        b.AddOutput("scores", TensorElementType.Float, 1, 3);
        return b.Build();
    }

    /// <summary>One layer: input [1,1,2,2] → Conv 2×2 (3 classes, bias) → Flatten → Softmax.</summary>
    public static ModelProto OneConv(float[] w, float[] bias)
    {
        var b = new OnnxGraphBuilder("oneconv", 13);
        b.AddInput("input", TensorElementType.Float, 1, 1, 2, 2);
        var c = b.AddNode("Conv", ["input", Add(b, "w", w, 3, 1, 2, 2), Add(b, "b", bias, 3)]);
        var f = b.AddNode("Flatten", [c]);
        b.AddNode("Softmax", [f], ["scores"], [Attr.Int("axis", 1)]);
        b.AddOutput("scores", TensorElementType.Float, 1, 3);
        return b.Build();
    }

    /// <summary>One dense layer: input [1,1,2,3] → Flatten → Gemm (4 classes, bias) → Softmax.</summary>
    public static ModelProto OneGemm(float[] w, float[] bias)
    {
        var b = new OnnxGraphBuilder("onegemm", 13);
        b.AddInput("input", TensorElementType.Float, 1, 1, 2, 3);
        var f = b.AddNode("Flatten", ["input"]);
        var g = b.AddNode("Gemm", [f, Add(b, "w", w, 6, 4), Add(b, "b", bias, 4)]);
        b.AddNode("Softmax", [g], ["scores"], [Attr.Int("axis", 1)]);
        b.AddOutput("scores", TensorElementType.Float, 1, 4);
        return b.Build();
    }

    /// <summary>
    /// Input [1,1,size,size] → Conv 3×3 pads 1 with zero-sum kernels, no bias → Relu → Conv 3×3 pads 1 →
    /// GlobalAveragePool → Flatten → Softmax: a constant input patch gives exactly zero first-layer output.
    /// </summary>
    public static ModelProto ZeroSumKernels(int seed, int size = 16)
    {
        var rng = new Random(seed);
        var w1 = Random(rng, 4 * 9);
        for (var o = 0; o < 4; o++)
        {
            var mean = w1.AsSpan(o * 9, 9).ToArray().Average();
            for (var i = 0; i < 9; i++)
            {
                w1[(o * 9) + i] -= mean;
            }
        }

        var b = new OnnxGraphBuilder("zerosum", 13);
        b.AddInput("input", TensorElementType.Float, 1, 1, size, size);
        var c1 = b.AddNode("Conv", ["input", Add(b, "w1", w1, 4, 1, 3, 3)], Attr.Ints("pads", 1, 1, 1, 1));
        var r1 = b.AddNode("Relu", [c1]);
        var c2 = b.AddNode("Conv", [r1, Add(b, "w2", Random(rng, 3 * 4 * 9, 0.5f), 3, 4, 3, 3), Add(b, "b2", Random(rng, 3, 0.1f), 3)], Attr.Ints("pads", 1, 1, 1, 1));
        var gap = b.AddNode("GlobalAveragePool", [c2]);
        var f = b.AddNode("Flatten", [gap]);
        b.AddNode("Softmax", [f], ["scores"], [Attr.Int("axis", 1)]);
        b.AddOutput("scores", TensorElementType.Float, 1, 3);
        return b.Build();
    }

    /// <summary>A graph with an op no rule covers (LeakyRelu) between two convolutions.</summary>
    public static ModelProto WithLeakyRelu()
    {
        var rng = new Random(1);
        var b = new OnnxGraphBuilder("leaky", 13);
        b.AddInput("input", TensorElementType.Float, 1, 1, 6, 6);
        var c1 = b.AddNode("Conv", ["input", Add(b, "w1", Random(rng, 2 * 9), 2, 1, 3, 3)]);
        var l = b.AddNode("LeakyRelu", [c1], Attr.Float("alpha", 0.1f));
        var c2 = b.AddNode("Conv", [l, Add(b, "w2", Random(rng, 3 * 2 * 16), 3, 2, 4, 4)]);
        var f = b.AddNode("Flatten", [c2]);
        b.AddNode("Softmax", [f], ["scores"], [Attr.Int("axis", 1)]);
        b.AddOutput("scores", TensorElementType.Float, 1, 3);
        return b.Build();
    }

    private static string[] Inputs(params string[] names) => [.. names.Where(n => n.Length > 0)];

    private static string Add(OnnxGraphBuilder b, string name, float[] data, params long[] dims)
    {
        b.AddInitializer(name, data, dims);
        return name;
    }
}
