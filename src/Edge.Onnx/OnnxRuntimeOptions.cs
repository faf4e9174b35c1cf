using Edge.Onnx.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Onnx;

/// <summary>
/// Configuration of the ONNX Runtime binding, section <c>Onnx</c> (environment: <c>Onnx__Providers=CUDA,CPU</c>).
/// </summary>
public sealed class OnnxRuntimeOptions
{
    public const string SectionName = "Onnx";

    /// <summary>Path of libonnxruntime; unset searches EDGE_ORT_LIBRARY, the ./edge setup cache, then the system.</summary>
    public string? LibraryPath { get; set; }

    /// <summary>The least severe ORT log line passed on; Warning by default.</summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Warning;

    /// <summary>Execution providers in order of preference; empty means CPU only. CPU is always last.</summary>
    public List<string> Providers { get; set; } = [];

    /// <summary>Options per provider, e.g. <c>Onnx:ProviderOptions:OpenVINO:device_type = NPU</c>.</summary>
    public Dictionary<string, Dictionary<string, string>> ProviderOptions { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Threads inside one operator (default 1; 0 lets ORT choose).</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Threads across operators in parallel mode (default 1; 0 lets ORT choose).</summary>
    public int InterOpThreads { get; set; } = 1;

    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.All;

    public ExecutionMode ExecutionMode { get; set; } = ExecutionMode.Sequential;

    /// <summary>ORT session config entries, e.g. <c>session.qdqisint8allowed = 1</c>.</summary>
    public Dictionary<string, string> ConfigEntries { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The providers as configured, with a single comma-separated value split ("CUDA,CPU"); CPU when none.</summary>
    public IReadOnlyList<string> EffectiveProviders()
    {
        var list = Providers
            .SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();
        return list.Count == 0 ? [ExecutionProviders.Cpu] : list;
    }

    public SessionSettings ToSessionSettings() => new()
    {
        IntraOpThreads = IntraOpThreads,
        InterOpThreads = InterOpThreads,
        GraphOptimizationLevel = GraphOptimizationLevel,
        ExecutionMode = ExecutionMode,
        Providers = EffectiveProviders(),
        ProviderOptions = ProviderOptions.ToDictionary(
            p => p.Key,
            p => (IReadOnlyDictionary<string, string>)new Dictionary<string, string>(p.Value, StringComparer.Ordinal),
            StringComparer.OrdinalIgnoreCase),
        ConfigEntries = new Dictionary<string, string>(ConfigEntries, StringComparer.Ordinal),
    };

    public OrtEnvironmentOptions ToEnvironmentOptions() => new() { LibraryPath = LibraryPath, LogLevel = LogLevel };

    /// <summary>Reads the <c>Onnx</c> section; a single "Providers" value may be comma-separated.</summary>
    public static OnnxRuntimeOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new OnnxRuntimeOptions();
        Bind(configuration.GetSection(SectionName), options);
        return options;
    }

    internal static void Bind(IConfigurationSection section, OnnxRuntimeOptions options)
    {
        section.Bind(options);
        var scalar = section[nameof(Providers)];
        if (options.Providers.Count == 0 && !string.IsNullOrWhiteSpace(scalar))
        {
            options.Providers.Add(scalar);
        }
    }
}

/// <summary>Rules that need more than one field or the file system; a bad value names its key.</summary>
internal sealed class OnnxRuntimeOptionsValidator : IValidateOptions<OnnxRuntimeOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxRuntimeOptions options)
    {
        var failures = new List<string>();
        if (options.IntraOpThreads < 0)
        {
            failures.Add($"{OnnxRuntimeOptions.SectionName}:IntraOpThreads must be 0 (ORT chooses) or more, not {options.IntraOpThreads}.");
        }

        if (options.InterOpThreads < 0)
        {
            failures.Add($"{OnnxRuntimeOptions.SectionName}:InterOpThreads must be 0 (ORT chooses) or more, not {options.InterOpThreads}.");
        }

        if (!Enum.IsDefined(options.GraphOptimizationLevel))
        {
            failures.Add($"{OnnxRuntimeOptions.SectionName}:GraphOptimizationLevel must be Disabled, Basic, Extended or All.");
        }

        if (!string.IsNullOrWhiteSpace(options.LibraryPath) && options.LibraryPath.Contains('/', StringComparison.Ordinal) && !File.Exists(options.LibraryPath))
        {
            failures.Add($"{OnnxRuntimeOptions.SectionName}:LibraryPath: no file at {options.LibraryPath} (run ./edge setup).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

public static class OnnxServiceCollectionExtensions
{
    /// <summary>Binds <c>Onnx</c>, validates it at start, and registers one <see cref="OrtEnvironment"/>.</summary>
    public static IServiceCollection AddEdgeOnnx(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<OnnxRuntimeOptions>()
            .Configure(o => OnnxRuntimeOptions.Bind(configuration.GetSection(OnnxRuntimeOptions.SectionName), o))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OnnxRuntimeOptions>, OnnxRuntimeOptionsValidator>();
        services.AddSingleton(sp => OrtEnvironment.Create(
            sp.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value.ToEnvironmentOptions(),
            sp.GetService<ILoggerFactory>()));
        return services;
    }
}
