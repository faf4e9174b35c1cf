using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Tests.Quantization;

/// <summary>
/// A small fp32 graph shaped like the emotion network: NHWC input transposed to NCHW, Conv+Relu stem, a separable
/// block (depthwise group=C Conv, pointwise Conv, MaxPool 3×3 s2) added to a strided 1×1 residual, Relu after the
/// residual Add (a branch point), then a head: 3×3 Conv to 7 channels + GlobalAveragePool + Flatten + Softmax, or
/// GlobalAveragePool + Flatten + MatMul/Add or Gemm + Softmax. Weights are seeded random: same seed, same model.
/// </summary>
public static class MiniXception
{
    public const string Input = "input";
    public const string Output = "probabilities";

    /// <summary>Shrinks the head's weights so the 7 probabilities stay spread (errors in them stay visible).</summary>
    private const double HeadGain = 0.15;

    public enum Head
    {
        Conv,
        MatMul,
        Gemm,
    }

    public static ModelProto Build(int size = 32, Head head = Head.Conv, int seed = 7, long opset = 13)
    {
        var random = new Random(seed);
        var b = new OnnxGraphBuilder("mini_xception", opset);
        b.AddInput(Input, TensorElementType.Float, 1, size, size, 1);
        var x = b.AddNode("Transpose", [Input], Attr.Ints("perm", 0, 3, 1, 2));

        var stem = Relu(b, Conv(b, random, x, 1, 8, 3, stride: 2, pad: 1, name: "stem1"));
        var a = Relu(b, Conv(b, random, stem, 8, 8, 3, stride: 1, pad: 1, name: "stem2"));

        var dw1 = Conv(b, random, a, 8, 8, 3, stride: 1, pad: 1, group: 8, name: "block1_dw1");
        var pw1 = Relu(b, Conv(b, random, dw1, 8, 16, 1, name: "block1_pw1"));
        var dw2 = Conv(b, random, pw1, 16, 16, 3, stride: 1, pad: 1, group: 16, name: "block1_dw2");
        var pw2 = Conv(b, random, dw2, 16, 16, 1, name: "block1_pw2");
        var pool = b.AddNode("MaxPool", [pw2], Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 0, 0, 1, 1));
        var residual = Conv(b, random, a, 8, 16, 1, stride: 2, name: "block1_residual");
        var add = b.AddNode("Add", [pool, residual]);
        var relu = Relu(b, add);
        var dw3 = Conv(b, random, relu, 16, 16, 3, stride: 1, pad: 1, group: 16, name: "block2_dw");
        var pw3 = Conv(b, random, dw3, 16, 16, 1, name: "block2_pw");
        var add2 = b.AddNode("Add", [pw3, add]);

        string logits;
        switch (head)
        {
            case Head.Conv:
                var classes = Conv(b, random, add2, 16, 7, 3, stride: 1, pad: 1, name: "head", gain: HeadGain);
                logits = b.AddNode("Flatten", [b.AddNode("GlobalAveragePool", [classes])]);
                break;
            case Head.MatMul:
                var pooledM = b.AddNode("Flatten", [b.AddNode("GlobalAveragePool", [add2])]);
                b.AddInitializer("head_w", Weights(random, 16 * 7, 16, HeadGain), 16, 7);
                b.AddInitializer("head_b", Weights(random, 7, 4), 7);
                logits = b.AddNode("Add", [b.AddNode("MatMul", [pooledM, "head_w"]), "head_b"]);
                break;
            default:
                var pooledG = b.AddNode("Flatten", [b.AddNode("GlobalAveragePool", [add2])]);
                b.AddInitializer("head_w", Weights(random, 7 * 16, 16, HeadGain), 7, 16);
                b.AddInitializer("head_b", Weights(random, 7, 4), 7);
                logits = b.AddNode("Gemm", [pooledG, "head_w", "head_b"], Attr.Int("transB", 1));
                break;
        }

        b.AddNode("Softmax", [logits], [Output], [Attr.Int("axis", -1)], name: "softmax");
        b.AddOutput(Output, TensorElementType.Float, 1, 7);
        return b.Build();
    }

    /// <summary>Deterministic smooth "images" in [−1, 1], NHWC, like normalised grey face crops.</summary>
    public static IReadOnlyList<float[]> Images(int count, int size = 32, int seed = 11)
    {
        var random = new Random(seed);
        var images = new List<float[]>(count);
        for (var n = 0; n < count; n++)
        {
            var fx = 0.5 + (random.NextDouble() * 3);
            var fy = 0.5 + (random.NextDouble() * 3);
            var phase = random.NextDouble() * Math.PI * 2;
            var image = new float[size * size];
            for (var y = 0; y < size; y++)
            {
                for (var x = 0; x < size; x++)
                {
                    var v = Math.Sin((fx * x / size * Math.PI * 2) + phase) * Math.Cos(fy * y / size * Math.PI * 2);
                    v += (random.NextDouble() - 0.5) * 0.2;
                    image[(y * size) + x] = (float)Math.Clamp(v, -1, 1);
                }
            }

            images.Add(image);
        }

        return images;
    }

    private static string Relu(OnnxGraphBuilder b, string x) => b.AddNode("Relu", [x]);

    private static string Conv(OnnxGraphBuilder b, Random random, string x, int cin, int cout, int k, int stride = 1, int pad = 0, int group = 1, string name = "conv", double gain = 1)
    {
        var fanIn = cin / group * k * k;
        b.AddInitializer(name + "_w", Weights(random, cout * (cin / group) * k * k, fanIn, gain), cout, cin / group, k, k);
        b.AddInitializer(name + "_b", Weights(random, cout, 8), cout);
        var output = b.UniqueName(name);
        b.AddNode(
            "Conv",
            [x, name + "_w", name + "_b"],
            [output],
            [Attr.Ints("kernel_shape", k, k), Attr.Ints("strides", stride, stride), Attr.Ints("pads", pad, pad, pad, pad), Attr.Int("group", group)],
            name: name);
        return output;
    }

    private static float[] Weights(Random random, int count, int fanIn, double gain = 1)
    {
        var scale = gain * Math.Sqrt(2.0 / fanIn);
        var w = new float[count];
        for (var i = 0; i < w.Length; i++)
        {
            // Sum of uniforms: roughly normal, bounded.
            var u = random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5;
            w[i] = (float)(u * 2 * scale);
        }

        return w;
    }
}
