using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Runtime;

public sealed class OrtSessionTests : IDisposable
{
    private readonly OrtEnvironment _env = OrtEnvironment.Create();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Version_RealLibrary_Is1_30_0()
    {
        // GetVersionString is the second slot of OrtApiBase: a wrong layout would not give this string.
        Assert.Equal("1.30.0", _env.Version);
        Assert.True(File.Exists(_env.LibraryPath), _env.LibraryPath);
    }

    [Fact]
    public void BuildInfo_Slot254_ReturnsOrtBuildInfoString()
    {
        // GetBuildInfoString sits at slot 254: past every slot below it, so a miscount anywhere would show here.
        Assert.StartsWith("ORT Build Info", _env.BuildInfo, StringComparison.Ordinal);
    }

    [Fact]
    public void AvailableProviders_RealLibrary_ListsCpuLast()
    {
        var providers = _env.AvailableProviders;
        Assert.Equal("CPUExecutionProvider", providers[^1]);
        Assert.Contains("CUDAExecutionProvider", providers);
    }

    [Fact]
    public void Inputs_SymbolicBatchDim_IsMinusOne()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var input = Assert.Single(session.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal(TensorElementType.Float, input.ElementType);
        Assert.Equal(new long[] { -1, 4 }, input.Shape);
        Assert.Equal("y", Assert.Single(session.Outputs).Name);
        Assert.Equal(["CPU"], session.ActiveProviders);
    }

    [Fact]
    public void Run_Relu_ClampsNegativesToZero()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var y = Assert.Single(session.Run(NamedTensor.FromFloat("x", [-2f, -0.5f, 0f, 3f, 1.5f, -7f, 8f, -0.1f], 2, 4)));
        Assert.Equal(new long[] { 2, 4 }, y.Shape);
        Assert.Equal(new[] { 0f, 0f, 0f, 3f, 1.5f, 0f, 8f, 0f }, y.AsFloat());
    }

    [Fact]
    public void Run_Conv2x2_MatchesHandComputedValues()
    {
        using var session = _env.CreateSession(Models.Conv(), SessionSettings.Default);
        var x = Enumerable.Range(1, 9).Select(i => (float)i).ToArray(); // [[1,2,3],[4,5,6],[7,8,9]]
        var y = Assert.Single(session.Run(NamedTensor.FromFloat("x", x, 1, 1, 3, 3)));
        Assert.Equal(new long[] { 1, 1, 2, 2 }, y.Shape);
        float[] expected =
        [
            (1 * 1) + (2 * 2) + (4 * 3) + (5 * 4) + 0.5f, // 37.5
            (2 * 1) + (3 * 2) + (5 * 3) + (6 * 4) + 0.5f, // 47.5
            (4 * 1) + (5 * 2) + (7 * 3) + (8 * 4) + 0.5f, // 67.5
            (5 * 1) + (6 * 2) + (8 * 3) + (9 * 4) + 0.5f, // 77.5
        ];
        Assert.Equal(expected, y.AsFloat());
    }

    [Fact]
    public void Run_QuantizeDequantize_RoundsAndSaturatesLikeUint8()
    {
        using var session = _env.CreateSession(Models.QuantizeDequantize(), SessionSettings.Default);
        var outputs = session.Run(NamedTensor.FromFloat("x", [-10f, -1.1f, 0f, 0.7f, 3.3f, 200f], 6));
        // q = clamp(round(x / 0.5) + 10, 0, 255); y = (q - 10) * 0.5
        Assert.Equal(new byte[] { 0, 8, 10, 11, 17, 255 }, outputs[1].AsUInt8());
        Assert.Equal(new[] { -5f, -1f, 0f, 0.5f, 3.5f, 122.5f }, outputs[0].AsFloat());
    }

    [Fact]
    public void Run_MatMulAdd_MatchesHandComputedValues()
    {
        using var session = _env.CreateSession(Models.MatMulAdd(), SessionSettings.Default);
        var y = Assert.Single(session.Run(NamedTensor.FromFloat("x", [1f, 0f, -1f, 0.5f, 2f, 1f], 2, 3)));
        // W = [[1,2],[3,4],[5,6]], b = [0.25, -1]
        // row 0: [1 - 5, 2 - 6] + b = [-3.75, -5]; row 1: [0.5 + 6 + 5, 1 + 8 + 6] + b = [11.75, 14]
        Assert.Equal(new long[] { 2, 2 }, y.Shape);
        Assert.Equal(new[] { -3.75f, -5f, 11.75f, 14f }, y.AsFloat());
    }

    [Fact]
    public void Run_IntegerTensors_RoundTripInt64Int8Int32()
    {
        using var session = _env.CreateSession(Models.Integers(), SessionSettings.Default);
        var outputs = session.Run(
            NamedTensor.FromInt64("a", [1, -2, long.MaxValue - 1], 3),
            NamedTensor.FromInt64("b", [10, 20, 1], 3),
            NamedTensor.FromInt8("c", [-5, 100], 2),
            NamedTensor.FromInt32("d", [-7, 9], 2));
        Assert.Equal(new long[] { 11, 18, long.MaxValue }, outputs[0].AsInt64());
        Assert.Equal(new sbyte[] { 5, -100 }, outputs[1].AsInt8());
        Assert.Equal(new[] { 7, 9 }, outputs[2].AsInt32());
    }

    [Fact]
    public void Run_ChosenOutputNames_ReturnsOnlyThoseInOrder()
    {
        using var session = _env.CreateSession(Models.QuantizeDequantize(), SessionSettings.Default);
        var only = Assert.Single(session.Run(["q"], NamedTensor.FromFloat("x", [0f, 1f, 2f, 3f, 4f, 5f], 6)));
        Assert.Equal("q", only.Name);
        Assert.Equal(new byte[] { 10, 12, 14, 16, 18, 20 }, only.AsUInt8());
    }

    [Fact]
    public void CreateSession_FromFileWrittenByBuilder_Runs()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-conv-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModel.Save(OnnxModel.Load(Models.Conv()), path);
            using var session = _env.CreateSession(path, SessionSettings.Default);
            var y = session.Run(NamedTensor.FromFloat("x", new float[9], 1, 1, 3, 3))[0].AsFloat();
            Assert.Equal(new[] { 0.5f, 0.5f, 0.5f, 0.5f }, y); // zero input leaves only the bias
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CreateSession_OptimizedModelFilePath_WritesLoadableGraph()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-opt-{Guid.NewGuid():N}.onnx");
        try
        {
            var settings = new SessionSettings
            {
                OptimizedModelFilePath = path,
                GraphOptimizationLevel = GraphOptimizationLevel.Basic,
                ConfigEntries = new Dictionary<string, string> { ["session.qdqisint8allowed"] = "1" },
            };
            using var session = _env.CreateSession(Models.MatMulAdd(), settings);
            var model = OnnxModel.Load(path);
            Assert.NotEmpty(model.Graph.Node);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CreateSession_ProfileFilePrefix_WritesOneKernelTimePerNodeAndRunOnDispose()
    {
        // EnableProfiling sits at slot 14: a wrong slot would fail here or write no trace.
        var directory = Directory.CreateTempSubdirectory("edge-profile-").FullName;
        try
        {
            using (var session = _env.CreateSession(Models.MatMulAdd(), new SessionSettings { ProfileFilePrefix = Path.Combine(directory, "trace") }))
            {
                for (var i = 0; i < 3; i++)
                {
                    session.Run(NamedTensor.FromFloat("x", [1f, 2f, 3f], 1, 3));
                }
            }

            var file = Assert.Single(Directory.GetFiles(directory, "trace*.json"));
            using var trace = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(file));
            var kernels = trace.RootElement.EnumerateArray()
                .Where(e => e.GetProperty("cat").GetString() == "Node" && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
                .ToList();
            Assert.NotEmpty(kernels);
            Assert.Equal(0, kernels.Count % 3);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Run_ParallelExecutionWithThreads_GivesSameValues()
    {
        var settings = new SessionSettings { IntraOpThreads = 2, InterOpThreads = 2, ExecutionMode = ExecutionMode.Parallel };
        using var session = _env.CreateSession(Models.MatMulAdd(), settings);
        var y = session.Run(NamedTensor.FromFloat("x", [1f, 0f, -1f], 1, 3))[0].AsFloat();
        Assert.Equal(new[] { -3.75f, -5f }, y);
    }

    [Fact]
    public void Run_CancelledToken_ThrowsOperationCanceled()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() =>
            session.Run([NamedTensor.FromFloat("x", new float[4], 1, 4)], null, cts.Token));
    }

    [Fact]
    public void Run_LiveToken_RunsNormally()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        using var cts = new CancellationTokenSource();
        var y = session.Run([NamedTensor.FromFloat("x", [-1f, 1f, -2f, 2f], 1, 4)], null, cts.Token);
        Assert.Equal(new[] { 0f, 1f, 0f, 2f }, y[0].AsFloat());
    }
}
