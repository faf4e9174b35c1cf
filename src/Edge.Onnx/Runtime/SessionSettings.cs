namespace Edge.Onnx.Runtime;

/// <summary>ORT graph optimisation levels (<c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    Disabled = 0,
    Basic = 1,
    Extended = 2,
    All = 99,
}

/// <summary>Whether ORT runs independent nodes one after another or in parallel (<c>ExecutionMode</c>).</summary>
public enum ExecutionMode
{
    Sequential = 0,
    Parallel = 1,
}

/// <summary>How a session is created: threads, optimisation, execution providers, ORT config entries.</summary>
public sealed record SessionSettings
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> NoProviderOptions =
        new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.OrdinalIgnoreCase);

    private static readonly IReadOnlyDictionary<string, string> NoEntries = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The defaults: one intra-op thread, all optimisations, sequential, CPU only.</summary>
    public static SessionSettings Default { get; } = new();

    /// <summary>Threads inside one operator; 1 by default (a kiosk shares its cores), 0 lets ORT choose.</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Threads across operators, used with <see cref="ExecutionMode.Parallel"/>; 1 by default, 0 lets ORT choose.</summary>
    public int InterOpThreads { get; init; } = 1;

    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.All;

    public ExecutionMode ExecutionMode { get; init; } = ExecutionMode.Sequential;

    /// <summary>
    /// Execution providers in order of preference: CPU, CUDA, OpenVINO, DML (DirectML), or any name ORT's
    /// generic <c>SessionOptionsAppendExecutionProvider</c> knows (QNN, XNNPACK, WebGPU, ...). Each one that
    /// fails is logged with ORT's message and skipped; CPU always runs last.
    /// </summary>
    public IReadOnlyList<string> Providers { get; init; } = ["CPU"];

    /// <summary>Options per provider name, e.g. <c>["OpenVINO"] = { ["device_type"] = "NPU" }</c>, <c>["CUDA"] = { ["device_id"] = "0" }</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> ProviderOptions { get; init; } = NoProviderOptions;

    /// <summary>When set, ORT writes the graph it actually runs (after its optimisations) to this file.</summary>
    public string? OptimizedModelFilePath { get; init; }

    /// <summary>
    /// When set, ORT times every node of every run and writes the trace (Chrome trace JSON, one event per node and
    /// run) to <c>PREFIX_&lt;timestamp&gt;.json</c> when the session is disposed. For diagnostics: it slows runs down.
    /// </summary>
    public string? ProfileFilePrefix { get; init; }

    /// <summary>Session config entries (<c>AddSessionConfigEntry</c>), e.g. <c>session.qdqisint8allowed = 1</c>.</summary>
    public IReadOnlyDictionary<string, string> ConfigEntries { get; init; } = NoEntries;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(IntraOpThreads, nameof(IntraOpThreads));
        ArgumentOutOfRangeException.ThrowIfNegative(InterOpThreads, nameof(InterOpThreads));
        if (!Enum.IsDefined(GraphOptimizationLevel))
        {
            throw new ArgumentOutOfRangeException(nameof(GraphOptimizationLevel), GraphOptimizationLevel, "Unknown graph optimisation level.");
        }

        if (!Enum.IsDefined(ExecutionMode))
        {
            throw new ArgumentOutOfRangeException(nameof(ExecutionMode), ExecutionMode, "Unknown execution mode.");
        }

        ArgumentNullException.ThrowIfNull(Providers, nameof(Providers));
        ArgumentNullException.ThrowIfNull(ProviderOptions, nameof(ProviderOptions));
        ArgumentNullException.ThrowIfNull(ConfigEntries, nameof(ConfigEntries));
    }
}

/// <summary>Name, element type and shape of a session input or output; symbolic dimensions are -1.</summary>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape)
{
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(',', Shape)}]";
}
