using Edge.Onnx.Proto;

namespace Edge.Onnx.Graph;

/// <summary>
/// Builds an ONNX <see cref="ModelProto"/> in C#: opsets, inputs and outputs (symbolic dims allowed),
/// initializers (raw little-endian data), nodes with typed attributes, and unique names.
/// The same calls give the same bytes: nothing depends on time, hashing order or the machine.
/// </summary>
public sealed class OnnxGraphBuilder
{
    /// <summary>The ONNX default operator domain.</summary>
    public const string DefaultDomain = "";

    /// <summary>Microsoft's contrib operator domain (fused and quantized ops in ONNX Runtime).</summary>
    public const string MicrosoftDomain = "com.microsoft";

    private readonly SortedDictionary<string, long> _opsets = new(StringComparer.Ordinal);
    private readonly List<ValueInfoProto> _inputs = [];
    private readonly List<ValueInfoProto> _outputs = [];
    private readonly List<TensorProto> _initializers = [];
    private readonly List<NodeProto> _nodes = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    public OnnxGraphBuilder(string graphName = "edge", long opsetVersion = 13)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(graphName);
        GraphName = graphName;
        OpsetVersion = opsetVersion;
    }

    public string GraphName { get; }

    /// <summary>Version of the default (ai.onnx) operator set; 13 unless set.</summary>
    public long OpsetVersion
    {
        get => _opsets[DefaultDomain];
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _opsets[DefaultDomain] = value;
        }
    }

    /// <summary>ONNX IR version written to the model; 8 suits opsets 13 to 17 and every ORT since 1.10.</summary>
    public long IrVersion { get; set; } = 8;

    public string ProducerName { get; set; } = "Edge";

    public string ProducerVersion { get; set; } = "1";

    /// <summary>Declares an operator set for a domain (e.g. <see cref="MicrosoftDomain"/>, 1).</summary>
    public OnnxGraphBuilder UseOpset(string domain, long version)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        _opsets[domain] = version;
        return this;
    }

    /// <summary>Adds a graph input; dims may be fixed sizes or symbolic names.</summary>
    public OnnxGraphBuilder AddInput(string name, TensorElementType elementType, params Dim[] shape)
    {
        _inputs.Add(ValueInfo(Claim(name), elementType, shape));
        return this;
    }

    /// <summary>Adds a graph output. The name is normally the output of a node added before or after.</summary>
    public OnnxGraphBuilder AddOutput(string name, TensorElementType elementType, params Dim[] shape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _outputs.Add(ValueInfo(name, elementType, shape));
        _names.Add(name);
        return this;
    }

    /// <summary>Adds a graph output whose type and shape ORT infers.</summary>
    public OnnxGraphBuilder AddOutput(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _outputs.Add(new ValueInfoProto { Name = name });
        _names.Add(name);
        return this;
    }

    public OnnxGraphBuilder AddInitializer(string name, float[] data, params long[] dims) => AddInitializer(Tensors.Create(Claim(name), data, dims));

    public OnnxGraphBuilder AddInitializer(string name, long[] data, params long[] dims) => AddInitializer(Tensors.Create(Claim(name), data, dims));

    public OnnxGraphBuilder AddInitializer(string name, int[] data, params long[] dims) => AddInitializer(Tensors.Create(Claim(name), data, dims));

    public OnnxGraphBuilder AddInitializer(string name, sbyte[] data, params long[] dims) => AddInitializer(Tensors.Create(Claim(name), data, dims));

    public OnnxGraphBuilder AddInitializer(string name, byte[] data, params long[] dims) => AddInitializer(Tensors.Create(Claim(name), data, dims));

    /// <summary>Adds a tensor made elsewhere (its name must be new).</summary>
    public OnnxGraphBuilder AddInitializer(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        _names.Add(tensor.Name);
        _initializers.Add(tensor);
        return this;
    }

    /// <summary>
    /// Adds a node. Its name is <paramref name="name"/> or, when null, a unique one made from the op type.
    /// Returns the node so callers can read its generated name or add to it.
    /// </summary>
    public NodeProto AddNode(
        string opType,
        IEnumerable<string> inputs,
        IEnumerable<string> outputs,
        IEnumerable<AttributeProto>? attributes = null,
        string domain = DefaultDomain,
        string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(domain);
        if (!_opsets.ContainsKey(domain))
        {
            throw new InvalidOperationException($"Node {opType} uses domain '{domain}' but no opset was declared for it (call UseOpset).");
        }

        var nodeName = name ?? UniqueNodeName(opType);
        if (!_nodeNames.Add(nodeName))
        {
            throw new ArgumentException($"A node named '{nodeName}' already exists.", nameof(name));
        }

        var node = new NodeProto { OpType = opType, Name = nodeName, Domain = domain };
        node.Input.AddRange(inputs);
        foreach (var output in outputs)
        {
            node.Output.Add(output);
            if (output.Length > 0)
            {
                _names.Add(output);
            }
        }

        if (attributes is not null)
        {
            node.Attribute.AddRange(attributes);
        }

        _nodes.Add(node);
        return node;
    }

    /// <summary>Adds a node in the default domain with a single output whose unique name is generated and returned.</summary>
    public string AddNode(string opType, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var output = UniqueName(opType.ToLowerInvariant());
        AddNode(opType, inputs, [output], attributes);
        return output;
    }

    /// <summary>A value name not used so far in this graph, made from <paramref name="prefix"/>; the name is reserved.</summary>
    public string UniqueName(string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        while (true)
        {
            _counters.TryGetValue(prefix, out var n);
            _counters[prefix] = n + 1;
            var candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefix}_{n}");
            if (_names.Add(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>True when the name is already an input, output, initializer or node output.</summary>
    public bool IsNameUsed(string name) => _names.Contains(name);

    public ModelProto Build()
    {
        var graph = new GraphProto { Name = GraphName };
        graph.Input.AddRange(_inputs.Select(v => v.Clone()));
        graph.Output.AddRange(_outputs.Select(v => v.Clone()));
        graph.Initializer.AddRange(_initializers.Select(t => t.Clone()));
        graph.Node.AddRange(_nodes.Select(n => n.Clone()));
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = ProducerVersion,
            Graph = graph,
        };
        foreach (var (domain, version) in _opsets)
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }

        return model;
    }

    public byte[] ToBytes() => OnnxModel.ToBytes(Build());

    private string Claim(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_names.Add(name))
        {
            throw new ArgumentException($"The name '{name}' is already used in this graph.", nameof(name));
        }

        return name;
    }

    private string UniqueNodeName(string opType)
    {
        while (true)
        {
            var key = "node:" + opType;
            _counters.TryGetValue(key, out var n);
            _counters[key] = n + 1;
            var candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{opType}_{n}");
            if (!_nodeNames.Contains(candidate))
            {
                return candidate;
            }
        }
    }

    private static ValueInfoProto ValueInfo(string name, TensorElementType elementType, Dim[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (elementType == TensorElementType.Undefined)
        {
            throw new ArgumentException($"Value '{name}' needs an element type.", nameof(elementType));
        }

        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
        {
            tensorShape.Dim.Add(d.Symbol is { } s
                ? new TensorShapeProto.Types.Dimension { DimParam = s }
                : new TensorShapeProto.Types.Dimension { DimValue = d.Value ?? 0 });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = tensorShape } },
        };
    }
}
