using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Runtime;

public sealed class OrtRunnerTests : IDisposable
{
    private readonly OrtEnvironment _env = OrtEnvironment.Create();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Run_FilledInputBuffer_WritesOutputBuffer()
    {
        using var session = _env.CreateSession(Models.MatMulAdd(), SessionSettings.Default);
        using var runner = session.CreateRunner(new Dictionary<string, long[]> { ["x"] = [2, 3], ["y"] = [2, 2] });
        Assert.Equal(new long[] { 2, 3 }, runner.Inputs[0].Shape);
        float[] x = [1f, 0f, -1f, 0.5f, 2f, 1f];
        x.CopyTo(runner.Input(0));
        runner.Run();
        Assert.Equal(new[] { -3.75f, -5f, 11.75f, 14f }, runner.Output(0).ToArray());

        // The buffers are reused: new input, new output, same spans.
        runner.Input(0).Clear();
        runner.Run();
        Assert.Equal(new[] { 0.25f, -1f, 0.25f, -1f }, runner.Output(0).ToArray());
    }

    [Fact]
    public void Run_SymbolicDimNotGiven_IsOne()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        using var runner = session.CreateRunner();
        Assert.Equal(new long[] { 1, 4 }, runner.Inputs[0].Shape);
        float[] x = [-1f, 2f, -3f, 4f];
        x.CopyTo(runner.Input(runner.InputIndex("x")));
        runner.Run();
        Assert.Equal(new[] { 0f, 2f, 0f, 4f }, runner.Output(runner.OutputIndex("y")).ToArray());
    }

    [Fact]
    public void Run_ManyTimes_AllocatesNothing()
    {
        using var session = _env.CreateSession(Models.Conv(), SessionSettings.Default);
        using var runner = session.CreateRunner();
        var input = runner.Input(0);
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = i + 1;
        }

        runner.Run(); // warm-up: ORT's first run plans memory, the JIT compiles
        runner.Run();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            runner.Run();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(37.5f, runner.Output(0)[0]);
    }

    [Fact]
    public void Input_WrongElementType_Throws()
    {
        using var session = _env.CreateSession(Models.QuantizeDequantize(), SessionSettings.Default);
        using var runner = session.CreateRunner();
        Assert.Throws<InvalidOperationException>(() => runner.Input<long>(0).Length);
        runner.Input(0)[0] = 1f;
        runner.Run();
        Assert.Equal(12, runner.Output<byte>(1)[0]);
    }

    [Fact]
    public void CreateRunner_ShapeContradictingModel_Throws()
    {
        using var session = _env.CreateSession(Models.Conv(), SessionSettings.Default);
        Assert.Throws<ArgumentException>(() => session.CreateRunner(new Dictionary<string, long[]> { ["x"] = [1, 1, 4, 4] }));
    }

    [Fact]
    public void Dispose_Twice_IsSafe()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var runner = session.CreateRunner();
        runner.Dispose();
        runner.Dispose();
        Assert.Throws<ObjectDisposedException>(runner.Run);
    }
}
