using Edge.Onnx.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Edge.Onnx.Tests;

public sealed class OnnxRuntimeOptionsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void FromConfiguration_Empty_GivesCpuAndOneThread()
    {
        var o = OnnxRuntimeOptions.FromConfiguration(Config());
        Assert.Equal(["CPU"], o.EffectiveProviders());
        var s = o.ToSessionSettings();
        Assert.Equal(1, s.IntraOpThreads);
        Assert.Equal(GraphOptimizationLevel.All, s.GraphOptimizationLevel);
    }

    [Fact]
    public void FromConfiguration_CommaSeparatedProviders_AreSplitInOrder()
    {
        var o = OnnxRuntimeOptions.FromConfiguration(Config(("Onnx:Providers", "OpenVINO, CUDA,CPU")));
        Assert.Equal(["OpenVINO", "CUDA", "CPU"], o.EffectiveProviders());
    }

    [Fact]
    public void FromConfiguration_ArrayProvidersAndOptions_AreBound()
    {
        var o = OnnxRuntimeOptions.FromConfiguration(Config(
            ("Onnx:Providers:0", "CUDA"),
            ("Onnx:Providers:1", "CPU"),
            ("Onnx:ProviderOptions:OpenVINO:device_type", "NPU"),
            ("Onnx:IntraOpThreads", "2"),
            ("Onnx:ExecutionMode", "Parallel"),
            ("Onnx:ConfigEntries:session.qdqisint8allowed", "1")));
        var s = o.ToSessionSettings();
        Assert.Equal(["CUDA", "CPU"], s.Providers);
        Assert.Equal("NPU", s.ProviderOptions["openvino"]["device_type"]);
        Assert.Equal(2, s.IntraOpThreads);
        Assert.Equal(ExecutionMode.Parallel, s.ExecutionMode);
        Assert.Equal("1", s.ConfigEntries["session.qdqisint8allowed"]);
    }

    [Fact]
    public void AddEdgeOnnx_NegativeThreads_FailsValidationNamingTheKey()
    {
        using var provider = new ServiceCollection()
            .AddEdgeOnnx(Config(("Onnx:IntraOpThreads", "-3")))
            .BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value);
        Assert.Contains("Onnx:IntraOpThreads", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddEdgeOnnx_DefaultConfiguration_ResolvesWorkingEnvironment()
    {
        using var provider = new ServiceCollection()
            .AddLogging()
            .AddEdgeOnnx(Config())
            .BuildServiceProvider();
        var env = provider.GetRequiredService<OrtEnvironment>();
        Assert.Equal("1.30.0", env.Version);
    }
}
