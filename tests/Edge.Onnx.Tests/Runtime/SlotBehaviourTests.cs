using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Runtime;

/// <summary>
/// Slots whose miscount would not crash but silently do something else get a test that shows their effect.
/// </summary>
public sealed unsafe class SlotBehaviourTests : IDisposable
{
    private readonly OrtEnvironment _env = OrtEnvironment.Create();

    public void Dispose() => _env.Dispose();

    private string[] OptimizedOpTypes(GraphOptimizationLevel level)
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-opt-{level}-{Guid.NewGuid():N}.onnx");
        try
        {
            using (_env.CreateSession(Models.MatMulAdd(), new SessionSettings { GraphOptimizationLevel = level, OptimizedModelFilePath = path }))
            {
            }

            return OnnxModel.Load(path).Graph.Node.Select(n => n.OpType).ToArray();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SetSessionGraphOptimizationLevel_DisabledVersusBasic_ChangesFusion()
    {
        // Slot 23 next to slot 22 (log severity) takes the same int: only the effect tells them apart.
        Assert.Equal(["MatMul", "Add"], OptimizedOpTypes(GraphOptimizationLevel.Disabled));
        Assert.Equal(["Gemm"], OptimizedOpTypes(GraphOptimizationLevel.Basic));
    }

    [Fact]
    public void AddSessionConfigEntry_OverlongKey_IsRejectedByOrt()
    {
        // Slot 130: ORT checks config key length, so a wrong slot would not produce this error.
        var settings = new SessionSettings { ConfigEntries = new Dictionary<string, string> { [new string('k', 2000)] = "1" } };
        var e = Assert.Throws<OrtException>(() => _env.CreateSession(Models.Relu(), settings));
        Assert.Contains("key", e.OrtMessage, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void RunOptionsSetTerminate_BeforeRun_MakesOrtRefuseTheRun()
    {
        // Slots 39 (CreateRunOptions) and 46 (RunOptionsSetTerminate), used by cancellation.
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var api = OrtNative.Api;
        nint raw;
        api.Check(api.CreateRunOptions(&raw));
        using var runOptions = new OrtRunOptionsHandle(raw);
        api.Check(api.RunOptionsSetTerminate(raw));

        var x = new float[4];
        fixed (float* p = x)
        {
            using var value = OrtSession.CreateTensor(p, sizeof(float) * 4, [1, 4], TensorElementType.Float);
            var inName = "x\0"u8;
            var outName = "y\0"u8;
            fixed (byte* i = inName, o = outName)
            {
                var inNames = (nint)i;
                var outNames = (nint)o;
                var inValue = value.DangerousGetHandle();
                nint outValue = 0;
                var error = api.ToException(api.Run(session.Handle.DangerousGetHandle(), raw, &inNames, &inValue, 1, &outNames, 1, &outValue));
                Assert.NotNull(error);
                Assert.Contains("terminate", error.OrtMessage, StringComparison.OrdinalIgnoreCase);
                Assert.Equal(0, outValue);
            }
        }
    }
}
