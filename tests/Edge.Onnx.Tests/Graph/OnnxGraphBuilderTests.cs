using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Tests.Graph;

public sealed class OnnxGraphBuilderTests
{
    private static OnnxGraphBuilder SmallGraph()
    {
        var b = new OnnxGraphBuilder("small");
        b.AddInput("x", TensorElementType.Float, "N", 4);
        b.AddInitializer("w", new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 4, 2);
        var y = b.AddNode("MatMul", ["x", "w"]);
        b.AddNode("Relu", [y], ["out"]);
        b.AddOutput("out", TensorElementType.Float, "N", 2);
        return b;
    }

    [Fact]
    public void ToBytes_SameCallsTwice_GiveIdenticalBytes()
    {
        var first = SmallGraph().ToBytes();
        var second = SmallGraph().ToBytes();
        Assert.NotEmpty(first);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Build_DefaultOpset_Is13InDefaultDomainAndExtraDomainsAreKept()
    {
        var b = SmallGraph().UseOpset(OnnxGraphBuilder.MicrosoftDomain, 1);
        var model = b.Build();
        Assert.Contains(model.OpsetImport, o => o.Domain == "" && o.Version == 13);
        Assert.Contains(model.OpsetImport, o => o.Domain == "com.microsoft" && o.Version == 1);

        b.OpsetVersion = 17;
        Assert.Contains(b.Build().OpsetImport, o => o.Domain == "" && o.Version == 17);
    }

    [Fact]
    public void AddInput_SymbolicAndFixedDims_AreWrittenAsDimParamAndDimValue()
    {
        var model = SmallGraph().Build();
        var dims = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        Assert.Equal("N", dims[0].DimParam);
        Assert.Equal(4, dims[1].DimValue);
        Assert.Equal((int)TensorElementType.Float, model.Graph.Input[0].Type.TensorType.ElemType);
    }

    [Fact]
    public void AddInitializer_Float_IsRawLittleEndianAndReadsBack()
    {
        var model = SmallGraph().Build();
        var w = OnnxModel.FindInitializer(model, "w")!;
        Assert.True(w.HasRawData);
        Assert.Equal(32, w.RawData.Length);
        // 1.0f little-endian is 00 00 80 3F.
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F }, w.RawData.Span[..4].ToArray());
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, OnnxModel.ReadFloatInitializer(model, "w"));
    }

    [Fact]
    public void ToFloatArray_FloatDataField_IsReadToo()
    {
        var t = new TensorProto { Name = "f", DataType = (int)TensorElementType.Float };
        t.Dims.Add(3);
        t.FloatData.AddRange([0.5f, -1f, 2f]);
        Assert.Equal(new[] { 0.5f, -1f, 2f }, Tensors.ToFloatArray(t));
    }

    [Fact]
    public void AddInitializer_IntegerTypes_RoundTrip()
    {
        var b = new OnnxGraphBuilder();
        b.AddInitializer("i64", new long[] { -1, long.MaxValue }, 2);
        b.AddInitializer("i32", new[] { -7, 9 }, 2);
        b.AddInitializer("i8", new sbyte[] { -128, 127 }, 2);
        b.AddInitializer("u8", new byte[] { 0, 255 }, 2);
        b.AddInitializer("scalar", new float[] { 3f });
        var model = OnnxModel.Load(b.ToBytes());

        Assert.Equal(new long[] { -1, long.MaxValue }, OnnxModel.ReadInt64Initializer(model, "i64"));
        Assert.Equal(new[] { -7, 9 }, Tensors.ToInt32Array(OnnxModel.FindInitializer(model, "i32")!));
        Assert.Equal(new sbyte[] { -128, 127 }, Tensors.ToSByteArray(OnnxModel.FindInitializer(model, "i8")!));
        Assert.Equal(new byte[] { 0, 255 }, Tensors.ToByteArray(OnnxModel.FindInitializer(model, "u8")!));
        Assert.Empty(OnnxModel.FindInitializer(model, "scalar")!.Dims);
        Assert.Equal(new[] { 3f }, OnnxModel.ReadFloatInitializer(model, "scalar"));
    }

    [Fact]
    public void AddInitializer_DimsDisagreeWithData_Throws()
    {
        var b = new OnnxGraphBuilder();
        var e = Assert.Throws<ArgumentException>(() => b.AddInitializer("w", new float[] { 1, 2, 3 }, 2, 2));
        Assert.Contains("4 elements", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddInitializer_NameAlreadyUsed_Throws()
    {
        var b = new OnnxGraphBuilder();
        b.AddInput("x", TensorElementType.Float, 1);
        Assert.Throws<ArgumentException>(() => b.AddInitializer("x", new float[] { 1 }, 1));
    }

    [Fact]
    public void UniqueName_CollidingWithExistingName_SkipsIt()
    {
        var b = new OnnxGraphBuilder();
        b.AddInput("relu_0", TensorElementType.Float, 1);
        var first = b.UniqueName("relu");
        var second = b.UniqueName("relu");
        Assert.Equal("relu_1", first);
        Assert.Equal("relu_2", second);
    }

    [Fact]
    public void AddNode_NoName_GetsUniqueNamesPerOpType()
    {
        var b = new OnnxGraphBuilder();
        var a = b.AddNode("Relu", ["x"], ["y"]);
        var c = b.AddNode("Relu", ["y"], ["z"]);
        Assert.Equal("Relu_0", a.Name);
        Assert.Equal("Relu_1", c.Name);
    }

    [Fact]
    public void AddNode_UndeclaredDomain_Throws()
    {
        var b = new OnnxGraphBuilder();
        Assert.Throws<InvalidOperationException>(() => b.AddNode("QLinearAdd", ["a"], ["b"], domain: "com.microsoft"));
        b.UseOpset("com.microsoft", 1);
        Assert.Equal("com.microsoft", b.AddNode("QLinearAdd", ["a"], ["b"], domain: "com.microsoft").Domain);
    }

    [Fact]
    public void Attr_TypedHelpers_SetTypeAndValue()
    {
        Assert.Equal(AttributeProto.Types.AttributeType.Ints, Attr.Ints("pads", 1, 1, 1, 1).Type);
        Assert.Equal([1L, 1, 1, 1], Attr.Ints("pads", 1, 1, 1, 1).Ints);
        Assert.Equal(2, Attr.Int("group", 2).I);
        Assert.Equal(0.5f, Attr.Float("alpha", 0.5f).F);
        Assert.Equal([0.5f, 1f], Attr.Floats("scales", 0.5f, 1f).Floats);
        Assert.Equal("SAME_UPPER", Attr.String("auto_pad", "SAME_UPPER").S.ToStringUtf8());
        Assert.Equal("v", Attr.Tensor("value", Tensors.Create("v", new float[] { 1 })).T.Name);
    }

    [Fact]
    public void SaveAndLoad_FileRoundTrip_KeepsGraph()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-graph-{Guid.NewGuid():N}.onnx");
        try
        {
            var model = SmallGraph().Build();
            OnnxModel.Save(model, path);
            var loaded = OnnxModel.Load(path);
            Assert.Equal(model, loaded);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_GarbageBytes_ThrowsInvalidData()
    {
        Assert.Throws<InvalidDataException>(() => OnnxModel.Load(new byte[] { 0xFF, 0xFF, 0xFF, 0x01, 0x02 }));
    }

    [Fact]
    public void Load_MissingFile_ThrowsFileNotFoundNamingThePath()
    {
        var e = Assert.Throws<FileNotFoundException>(() => OnnxModel.Load("/nonexistent/model.onnx"));
        Assert.Contains("/nonexistent/model.onnx", e.Message, StringComparison.Ordinal);
    }
}
