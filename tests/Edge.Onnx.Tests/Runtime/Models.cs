using Edge.Onnx.Graph;

namespace Edge.Onnx.Tests.Runtime;

/// <summary>Small graphs built with the graph builder, each with values a test can work out by hand.</summary>
internal static class Models
{
    public static byte[] Relu()
    {
        var b = new OnnxGraphBuilder("relu");
        b.AddInput("x", TensorElementType.Float, "N", 4);
        b.AddNode("Relu", ["x"], ["y"]);
        b.AddOutput("y", TensorElementType.Float, "N", 4);
        return b.ToBytes();
    }

    /// <summary>Conv 1×1×3×3 input, one 2×2 kernel [[1,2],[3,4]], bias 0.5, no padding, stride 1 → 1×1×2×2.</summary>
    public static byte[] Conv()
    {
        var b = new OnnxGraphBuilder("conv");
        b.AddInput("x", TensorElementType.Float, 1, 1, 3, 3);
        b.AddInitializer("w", new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        b.AddInitializer("b", new float[] { 0.5f }, 1);
        b.AddNode("Conv", ["x", "w", "b"], ["y"], [Attr.Ints("kernel_shape", 2, 2), Attr.Ints("strides", 1, 1), Attr.Ints("pads", 0, 0, 0, 0)]);
        b.AddOutput("y", TensorElementType.Float, 1, 1, 2, 2);
        return b.ToBytes();
    }

    /// <summary>QuantizeLinear (scale 0.5, zero point 10, uint8) → DequantizeLinear; the uint8 code is a second output.</summary>
    public static byte[] QuantizeDequantize()
    {
        var b = new OnnxGraphBuilder("qdq");
        b.AddInput("x", TensorElementType.Float, 6);
        b.AddInitializer("scale", new float[] { 0.5f });
        b.AddInitializer("zero", new byte[] { 10 });
        b.AddNode("QuantizeLinear", ["x", "scale", "zero"], ["q"]);
        b.AddNode("DequantizeLinear", ["q", "scale", "zero"], ["y"]);
        b.AddOutput("y", TensorElementType.Float, 6);
        b.AddOutput("q", TensorElementType.UInt8, 6);
        return b.ToBytes();
    }

    /// <summary>y = x·W + b with x [N,3], W [3,2], b [2].</summary>
    public static byte[] MatMulAdd()
    {
        var b = new OnnxGraphBuilder("linear");
        b.AddInput("x", TensorElementType.Float, "N", 3);
        b.AddInitializer("W", new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        b.AddInitializer("bias", new float[] { 0.25f, -1f }, 2);
        var xw = b.AddNode("MatMul", ["x", "W"]);
        b.AddNode("Add", [xw, "bias"], ["y"]);
        b.AddOutput("y", TensorElementType.Float, "N", 2);
        return b.ToBytes();
    }

    /// <summary>Int64 and int8 paths: sum = a + b (int64); neg = Neg(c) (int8).</summary>
    public static byte[] Integers()
    {
        var b = new OnnxGraphBuilder("ints");
        b.AddInput("a", TensorElementType.Int64, 3);
        b.AddInput("b", TensorElementType.Int64, 3);
        b.AddInput("c", TensorElementType.Int8, 2);
        b.AddInput("d", TensorElementType.Int32, 2);
        b.AddNode("Add", ["a", "b"], ["sum"]);
        b.AddNode("Neg", ["c"], ["neg"]);
        b.AddNode("Abs", ["d"], ["abs"]);
        b.AddOutput("sum", TensorElementType.Int64, 3);
        b.AddOutput("neg", TensorElementType.Int8, 2);
        b.AddOutput("abs", TensorElementType.Int32, 2);
        return b.ToBytes();
    }
}
