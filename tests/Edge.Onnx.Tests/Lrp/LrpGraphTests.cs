using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;

namespace Edge.Onnx.Tests.Lrp;

public sealed class LrpGraphTests
{
    [Fact]
    public void ValueOf_DequantizeCopiesOfOneTensor_ReadTheFirstCopy()
    {
        // A QDQ model dequantizes a tensor once per consumer: the copies hold the same values, another scale does not.
        var b = new OnnxGraphBuilder("qdq-copies", 13);
        b.AddInput("x", TensorElementType.Float, 1, 2, 4, 4);
        b.AddInitializer("scale", [0.1f]);
        b.AddInitializer("other_scale", [0.2f]);
        b.AddInitializer("zero_point", new byte[] { 0 });
        var q = b.AddNode("QuantizeLinear", ["x", "scale", "zero_point"]);
        var first = b.AddNode("DequantizeLinear", [q, "scale", "zero_point"]);
        var copy = b.AddNode("DequantizeLinear", [q, "scale", "zero_point"]);
        var rescaled = b.AddNode("DequantizeLinear", [q, "other_scale", "zero_point"]);
        b.AddOutput(b.AddNode("Add", [b.AddNode("Add", [first, copy]), rescaled]));

        var graph = new LrpGraph(b.Build().Graph);

        Assert.Equal(first, graph.ValueOf(first));
        Assert.Equal(first, graph.ValueOf(copy));
        Assert.Equal(rescaled, graph.ValueOf(rescaled));
        Assert.Equal("x", graph.ValueOf("x"));
    }
}
