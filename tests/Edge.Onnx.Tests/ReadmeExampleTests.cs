using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests;

/// <summary>The example in src/Edge.Onnx/README.md, verbatim, so the docs cannot rot.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void ReadmeExample_LinearModel_RunsWithAndWithoutAllocation()
    {
        var b = new OnnxGraphBuilder("linear");                       // opset 13
        b.AddInput("x", TensorElementType.Float, "N", 3);             // symbolic batch
        b.AddInitializer("W", new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        b.AddInitializer("bias", new float[] { 0.25f, -1f }, 2);
        var xw = b.AddNode("MatMul", ["x", "W"]);                     // generated output name
        b.AddNode("Add", [xw, "bias"], ["y"]);
        b.AddOutput("y", TensorElementType.Float, "N", 2);

        using var env = OrtEnvironment.Create();                      // finds libonnxruntime as above
        using var session = env.CreateSession(b.ToBytes(), new SessionSettings { Providers = ["CUDA", "CPU"] });
        // session.ActiveProviders is ["CPU"] on a machine without CUDA; a warning says why.

        // Tools and tests: allocating run.
        var y = session.Run(NamedTensor.FromFloat("x", [1f, 0f, -1f], 1, 3))[0].AsFloat();   // [-3.75, -5]

        // Hot path: buffers made once, Run() allocates nothing.
        using var runner = session.CreateRunner();                    // symbolic dims not given are 1
        new float[] { 1f, 0f, -1f }.CopyTo(runner.Input(0));
        runner.Run();
        var first = runner.Output(0)[0];                              // -3.75

        Assert.Equal(["CPU"], session.ActiveProviders);
        Assert.Equal(new[] { -3.75f, -5f }, y);
        Assert.Equal(-3.75f, first);
    }
}
