using System.Buffers.Binary;
using System.Text;
using Edge.Onnx.Proto;
using Edge.Onnx.TfJs;

namespace Edge.Onnx.Tests.TfJs;

public sealed class TfJsImporterTests
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    /// <summary>A tiny graph model: input [1,4,4,2] → op under test → output; weights given as name → (shape, floats).</summary>
    private static TfJsGraphModel Model(string nodesJson, string weightsJson, byte[] bin, string output = "out")
    {
        var json = $$$$$"""
            {"format":"graph-model","modelTopology":{"node":[
              {"name":"x","op":"Placeholder","attr":{"dtype":{"type":"DT_FLOAT"},"shape":{"shape":{"dim":[{"size":"1"},{"size":"4"},{"size":"4"},{"size":"2"}]}}}},
              {{{{{nodesJson}}}}}
            ]},
            "userDefinedMetadata":{"signature":{"outputs":{"{{{{{output}}}}}:0":{"name":"{{{{{output}}}}}:0"}}}},
            "weightsManifest":[{"paths":["w.bin"],"weights":[{{{{{weightsJson}}}}}]}]}
            """;
        return TfJsGraphModel.Parse("tiny", Encoding.UTF8.GetBytes(json), _ => bin);
    }

    [Fact]
    public void Convert_UnknownOp_ThrowsNamingOpAndNode()
    {
        var model = Model("""{"name":"weird/node","op":"Erfinv","input":["x"]}""", string.Empty, [], "weird/node");

        var e = Assert.Throws<TfJsImportException>(() => TfJsImporter.Convert(model));

        Assert.Contains("'Erfinv'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'weird/node'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_UnsupportedFusedBatchNorm_ThrowsNamingNode()
    {
        var bin = new byte[((3 * 3 * 2 * 2) + 2) * 4];
        var model = Model(
            $$$$$"""
            {"name":"conv_bn","op":"_FusedConv2D","input":["x","f","b"],"attr":{"fused_ops":{"list":{"s":["{{{{{B64("FusedBatchNorm")}}}}}"]}},"num_args":{"i":"1"},"strides":{"list":{"i":["1","1","1","1"]}},"padding":{"s":"{{{{{B64("SAME")}}}}}"}}},
            {"name":"f","op":"Const"},{"name":"b","op":"Const"}
            """,
            """{"name":"f","shape":[3,3,2,2],"dtype":"float32"},{"name":"b","shape":[2],"dtype":"float32"}""",
            bin,
            "conv_bn");

        var e = Assert.Throws<TfJsImportException>(() => TfJsImporter.Convert(model));

        Assert.Contains("'conv_bn'", e.Message, StringComparison.Ordinal);
        Assert.Contains("FusedBatchNorm", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_DepthwiseConvSame_WritesGroupedNchwFilterAndSameUpperPads()
    {
        // Depthwise 3x3, stride 2, C=2, multiplier 1, on 4x4: TF SAME pads 0 before and 1 after.
        var f = new float[3 * 3 * 2];
        for (var i = 0; i < f.Length; i++)
        {
            f[i] = i;
        }

        var bin = new byte[f.Length * 4];
        for (var i = 0; i < f.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bin.AsSpan(i * 4), f[i]);
        }

        var model = Model(
            $$$$$"""{"name":"dw","op":"DepthwiseConv2dNative","input":["x","f"],"attr":{"strides":{"list":{"i":["1","2","2","1"]}},"padding":{"s":"{{{{{B64("SAME")}}}}}"}}},{"name":"f","op":"Const"}""",
            """{"name":"f","shape":[3,3,2,1],"dtype":"float32"}""",
            bin,
            "dw");

        var onnx = TfJsImporter.Convert(model);

        var conv = Assert.Single(onnx.Graph.Node, n => n.OpType == "Conv");
        Assert.Equal(2, conv.Attribute.Single(a => a.Name == "group").I);
        Assert.Equal([0L, 0L, 1L, 1L], conv.Attribute.Single(a => a.Name == "pads").Ints);
        var w = Edge.Onnx.Graph.Tensors.ToFloatArray(onnx.Graph.Initializer.Single(t => t.Name == conv.Input[1]));
        // ONNX W[c,0,y,x] = TF F[y,x,c,0] = (y*3 + x)*2 + c
        Assert.Equal(new[] { 0f, 2, 4, 6, 8, 10, 12, 14, 16 }, w[..9]);
        Assert.Equal(new[] { 1f, 3, 5, 7, 9, 11, 13, 15, 17 }, w[9..]);
        var output = Assert.Single(onnx.Graph.Output);
        Assert.Equal([1L, 2, 2, 2], output.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        Assert.Equal("dw", output.Name);
        Assert.Equal("x", Assert.Single(onnx.Graph.Input).Name);
    }

    [Fact]
    public void Parse_Uint8QuantizedWeights_AreDequantizedWithScaleAndMin()
    {
        var json = """
            {"format":"graph-model","modelTopology":{"node":[{"name":"c","op":"Const"}]},
             "weightsManifest":[{"paths":["a.bin","b.bin"],"weights":[
               {"name":"c","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1.0}},
               {"name":"h","shape":[2],"dtype":"float32","quantization":{"dtype":"float16"}}]}]}
            """;
        var shards = new Dictionary<string, byte[]>
        {
            ["a.bin"] = [0, 2, 255, 0x00],
            ["b.bin"] = [0x3C, 0x00, 0xC0],
        };

        var model = TfJsGraphModel.Parse("q", Encoding.UTF8.GetBytes(json), p => shards[p]);

        Assert.Equal([-1f, 0f, 126.5f], model.Weights["c"].Floats!);
        // 0x3C00 = 1.0, 0xC000 = -2.0 (little-endian halves straddling the two shards)
        Assert.Equal([1f, -2f], model.Weights["h"].Floats!);
    }

    [Fact]
    public void Parse_ShardsShorterThanManifest_ThrowsNamingWeight()
    {
        var json = """{"modelTopology":{"node":[]},"weightsManifest":[{"paths":["a.bin"],"weights":[{"name":"big","shape":[10],"dtype":"float32"}]}]}""";

        var e = Assert.Throws<TfJsImportException>(() => TfJsGraphModel.Parse("short", Encoding.UTF8.GetBytes(json), _ => new byte[8]));

        Assert.Contains("'big'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_RealEmotionModel_HasNhwcInputAndOnlyKnownOnnxOps()
    {
        var model = TfJsGraphModel.Load(Path.Combine(Edge.Onnx.Models.ModelPaths.CacheDirectory, "models-src", "3.0.4", "emotion.json"));

        var onnx = TfJsImporter.Convert(model);

        var input = Assert.Single(onnx.Graph.Input);
        Assert.Equal("input_1", input.Name);
        Assert.Equal("N", input.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal([64L, 64, 1], input.Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue));
        Assert.Equal("Identity", Assert.Single(onnx.Graph.Output).Name);
        Assert.Subset(
            new HashSet<string> { "Transpose", "Conv", "Relu", "MaxPool", "Add", "ReduceMean", "Softmax", "Identity" },
            onnx.Graph.Node.Select(n => n.OpType).ToHashSet());
        Assert.Equal(13, Assert.Single(onnx.OpsetImport, o => o.Domain == string.Empty).Version);
    }
}
