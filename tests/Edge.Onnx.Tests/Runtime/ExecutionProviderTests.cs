using Edge.Onnx.Runtime;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Edge.Onnx.Tests.Runtime;

public sealed class ExecutionProviderTests : IDisposable
{
    private readonly CapturingLoggerFactory _logs = new();
    private readonly OrtEnvironment _env;
    private readonly ITestOutputHelper _output;

    public ExecutionProviderTests(ITestOutputHelper output)
    {
        _output = output;
        _env = OrtEnvironment.Create(loggerFactory: _logs);
    }

    public void Dispose()
    {
        _output.WriteLine(_logs.Dump());
        _env.Dispose();
    }

    private static void AssertRelu(OrtSession session)
    {
        var y = session.Run(NamedTensor.FromFloat("x", [-1f, 2f, -3f, 4f], 1, 4))[0].AsFloat();
        Assert.Equal(new[] { 0f, 2f, 0f, 4f }, y);
    }

    [Fact]
    public void CreateSession_CudaThenCpuWithoutCudaLibraries_FallsBackToCpuWithOrtMessage()
    {
        using var session = _env.CreateSession(Models.Relu(), new SessionSettings { Providers = ["CUDA", "CPU"] });

        Assert.Equal(["CPU"], session.ActiveProviders);
        var warning = Assert.Single(_logs.Lines, l => l.Level == LogLevel.Warning && l.Id.Id == 4);
        Assert.Contains("CUDA", warning.Message, StringComparison.Ordinal);
        // The text after the colon is ORT's own message, not ours.
        Assert.True(warning.Message.Split("last): ", 2)[1].Length > 10, _logs.Dump());
        // ORT's own log line about the missing provider library reached ILogger through the native callback.
        Assert.Contains(_logs.Lines, l => l.Id.Id == 1 && l.Message.Contains("libonnxruntime_providers_shared", StringComparison.Ordinal));
        AssertRelu(session);
    }

    [Fact]
    public void CreateSession_UnknownProviderName_LogsOrtMessageAndFallsBack()
    {
        using var session = _env.CreateSession(Models.Relu(), new SessionSettings { Providers = ["NoSuchAccelerator"] });

        Assert.Equal(["CPU"], session.ActiveProviders);
        var warning = Assert.Single(_logs.Lines, l => l.Level == LogLevel.Warning && l.Id.Id == 4);
        Assert.Contains("NoSuchAccelerator", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Unknown provider name", warning.Message, StringComparison.OrdinalIgnoreCase);
        AssertRelu(session);
    }

    [Fact]
    public void CreateSession_OpenVinoNotInBuild_LogsOrtMessageNamingOpenVino()
    {
        var settings = new SessionSettings
        {
            Providers = ["OpenVINOExecutionProvider"],
            ProviderOptions = new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                ["OpenVINO"] = new Dictionary<string, string> { ["device_type"] = "NPU" },
            },
        };
        using var session = _env.CreateSession(Models.Relu(), settings);

        Assert.Equal(["CPU"], session.ActiveProviders);
        // Slot 275 (SessionOptionsAppendExecutionProvider_OpenVINO_V2): ORT answers about OpenVINO, nothing else.
        var warning = Assert.Single(_logs.Lines, l => l.Level == LogLevel.Warning && l.Id.Id == 4);
        Assert.Contains("OpenVINO", warning.Message.Split("last): ", 2)[1], StringComparison.OrdinalIgnoreCase);
        AssertRelu(session);
    }

    [Fact]
    public void CreateSession_DirectMlOnLinux_LogsMissingExportAndFallsBack()
    {
        using var session = _env.CreateSession(Models.Relu(), new SessionSettings { Providers = ["DirectML"] });

        Assert.Equal(["CPU"], session.ActiveProviders);
        Assert.False(_env.HasDirectML);
        Assert.True(_logs.Has(LogLevel.Warning, "OrtSessionOptionsAppendExecutionProvider_DML"), _logs.Dump());
        AssertRelu(session);
    }

    [Fact]
    public void CreateSession_ProvidersAfterCpu_AreIgnoredWithWarning()
    {
        using var session = _env.CreateSession(Models.Relu(), new SessionSettings { Providers = ["CPU", "CUDA"] });

        Assert.Equal(["CPU"], session.ActiveProviders);
        Assert.True(_logs.Has(LogLevel.Warning, "ignored"), _logs.Dump());
        Assert.DoesNotContain(_logs.Lines, l => l.Id.Id == 4); // CUDA was never tried
    }

    [Fact]
    public void CreateSession_EmptyProviderList_StillRunsOnCpu()
    {
        using var session = _env.CreateSession(Models.Relu(), new SessionSettings { Providers = [] });
        Assert.Equal(["CPU"], session.ActiveProviders);
        AssertRelu(session);
    }

    [Theory]
    [InlineData("CUDAExecutionProvider", "CUDA")]
    [InlineData("cuda", "CUDA")]
    [InlineData("openvino", "OpenVINO")]
    [InlineData("DmlExecutionProvider", "DML")]
    [InlineData("CPUExecutionProvider", "CPU")]
    [InlineData("XNNPACK", "XNNPACK")]
    public void PlanProviders_VariousSpellings_NormaliseToShortNames(string configured, string expected)
    {
        var plan = OrtEnvironment.PlanProviders([configured]);
        Assert.Equal(expected, plan[0]);
        Assert.Equal("CPU", plan[^1]);
    }

    [Fact]
    public void PlanProviders_Duplicates_AreTriedOnce()
    {
        Assert.Equal(["CUDA", "OpenVINO", "CPU"], OrtEnvironment.PlanProviders(["CUDA", "cuda", "OpenVINO", "CUDA"]));
    }
}
