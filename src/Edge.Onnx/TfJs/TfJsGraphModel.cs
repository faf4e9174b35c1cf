using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Edge.Onnx.TfJs;

/// <summary>One node of a TF.js graph model (<c>modelTopology.node[]</c>).</summary>
public sealed record TfJsNode(string Name, string Op, IReadOnlyList<string> Inputs, JsonElement Attributes)
{
    public bool HasAttribute(string name) => Attributes.ValueKind == JsonValueKind.Object && Attributes.TryGetProperty(name, out _);

    /// <summary>A string attribute (<c>{"s": base64}</c>), or <paramref name="fallback"/> when absent.</summary>
    public string GetString(string name, string? fallback = null)
    {
        if (TryGet(name, out var a) && a.TryGetProperty("s", out var s))
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(s.GetString() ?? string.Empty));
        }

        return fallback ?? throw Missing(name);
    }

    /// <summary>An int list attribute (<c>{"list": {"i": ["1", ...]}}</c>); empty when the list is empty.</summary>
    public long[] GetInts(string name, long[]? fallback = null)
    {
        if (TryGet(name, out var a) && a.TryGetProperty("list", out var list))
        {
            return list.TryGetProperty("i", out var i) ? [.. i.EnumerateArray().Select(ParseLong)] : [];
        }

        return fallback ?? throw Missing(name);
    }

    /// <summary>A string list attribute (<c>{"list": {"s": [base64, ...]}}</c>).</summary>
    public string[] GetStrings(string name)
    {
        if (TryGet(name, out var a) && a.TryGetProperty("list", out var list) && list.TryGetProperty("s", out var s))
        {
            return [.. s.EnumerateArray().Select(e => Encoding.UTF8.GetString(Convert.FromBase64String(e.GetString() ?? string.Empty)))];
        }

        return [];
    }

    public long GetInt(string name, long fallback) =>
        TryGet(name, out var a) && a.TryGetProperty("i", out var i) ? ParseLong(i) : fallback;

    public float GetFloat(string name, float fallback) =>
        TryGet(name, out var a) && a.TryGetProperty("f", out var f) ? f.GetSingle() : fallback;

    public bool GetBool(string name, bool fallback) =>
        TryGet(name, out var a) && a.TryGetProperty("b", out var b) ? b.GetBoolean() : fallback;

    /// <summary>The <c>shape</c> attribute of a Placeholder; -1 for unknown sizes.</summary>
    public long[] GetShape(string name)
    {
        if (TryGet(name, out var a) && a.TryGetProperty("shape", out var shape) && shape.TryGetProperty("dim", out var dims))
        {
            return [.. dims.EnumerateArray().Select(d => d.TryGetProperty("size", out var s) ? ParseLong(s) : -1)];
        }

        throw Missing(name);
    }

    private bool TryGet(string name, out JsonElement value)
    {
        value = default;
        return Attributes.ValueKind == JsonValueKind.Object && Attributes.TryGetProperty(name, out value);
    }

    private static long ParseLong(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : e.GetInt64();

    private TfJsImportException Missing(string attribute) => new($"node '{Name}' ({Op}) has no attribute '{attribute}'");
}

/// <summary>A constant tensor from the weights manifest, already dequantized.</summary>
public sealed class TfJsWeight
{
    internal TfJsWeight(string name, long[] shape, float[]? floats, int[]? ints)
    {
        Name = name;
        Shape = shape;
        Floats = floats;
        Ints = ints;
    }

    public string Name { get; }

    /// <summary>Shape in TensorFlow order (NHWC activations, HWIO filters).</summary>
    public long[] Shape { get; }

    /// <summary>float32 data (also for fp16- or uint8-quantized weights, dequantized); null for int32 constants.</summary>
    public float[]? Floats { get; }

    public int[]? Ints { get; }

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A TF.js graph model: <c>model.json</c> topology and its binary weight shards. Weights stored as float32,
/// int32, float16 or uint8/uint16 affine-quantized (<c>q × scale + min</c>) are read into float32/int32.
/// </summary>
public sealed class TfJsGraphModel
{
    private TfJsGraphModel(
        string name,
        IReadOnlyList<TfJsNode> nodes,
        IReadOnlyDictionary<string, TfJsWeight> weights,
        IReadOnlyList<string> signatureOutputs,
        string? generatedBy,
        string? convertedBy)
    {
        Name = name;
        Nodes = nodes;
        Weights = weights;
        SignatureOutputs = signatureOutputs;
        GeneratedBy = generatedBy;
        ConvertedBy = convertedBy;
    }

    public string Name { get; }

    public IReadOnlyList<TfJsNode> Nodes { get; }

    public IReadOnlyDictionary<string, TfJsWeight> Weights { get; }

    /// <summary>Output node names from the model signature (":0" removed), ordinal order; empty when there is no signature.</summary>
    public IReadOnlyList<string> SignatureOutputs { get; }

    public string? GeneratedBy { get; }

    public string? ConvertedBy { get; }

    /// <summary>Reads <paramref name="modelJsonPath"/> and the shards it names (relative to its folder).</summary>
    public static TfJsGraphModel Load(string modelJsonPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelJsonPath);
        if (!File.Exists(modelJsonPath))
        {
            throw new FileNotFoundException($"TF.js model.json not found: {modelJsonPath}", modelJsonPath);
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(modelJsonPath))!;
        var json = File.ReadAllBytes(modelJsonPath);
        var name = Path.GetFileNameWithoutExtension(modelJsonPath);
        try
        {
            return Parse(name, json, shard =>
            {
                var path = Path.Combine(folder, shard);
                return File.Exists(path) ? File.ReadAllBytes(path) : throw new FileNotFoundException($"weight shard '{shard}' named by {modelJsonPath} not found", path);
            });
        }
        catch (JsonException e)
        {
            throw new TfJsImportException($"{modelJsonPath}: not a TF.js graph model ({e.Message})", e);
        }
    }

    /// <summary>Parses model.json bytes; <paramref name="readShard"/> returns the bytes of a shard path.</summary>
    public static TfJsGraphModel Parse(string name, ReadOnlySpan<byte> modelJson, Func<string, byte[]> readShard)
    {
        ArgumentNullException.ThrowIfNull(readShard);
        using var doc = JsonDocument.Parse(modelJson.ToArray());
        var root = doc.RootElement;
        var format = root.TryGetProperty("format", out var f) ? f.GetString() : null;
        if (format is not null and not "graph-model")
        {
            throw new TfJsImportException($"model '{name}' has format '{format}'; only TF.js graph models are supported");
        }

        if (!root.TryGetProperty("modelTopology", out var topology) || !topology.TryGetProperty("node", out var nodeArray))
        {
            throw new TfJsImportException($"model '{name}' has no modelTopology.node");
        }

        var nodes = new List<TfJsNode>();
        foreach (var n in nodeArray.EnumerateArray())
        {
            var inputs = n.TryGetProperty("input", out var i) ? i.EnumerateArray().Select(x => x.GetString()!).ToArray() : [];
            var attributes = n.TryGetProperty("attr", out var a) ? a.Clone() : default;
            nodes.Add(new TfJsNode(n.GetProperty("name").GetString()!, n.GetProperty("op").GetString()!, inputs, attributes));
        }

        if (topology.TryGetProperty("library", out var library) && library.TryGetProperty("function", out var functions) && functions.GetArrayLength() > 0)
        {
            throw new TfJsImportException($"model '{name}' uses control-flow functions (modelTopology.library), which the importer does not support");
        }

        var weights = new Dictionary<string, TfJsWeight>(StringComparer.Ordinal);
        if (root.TryGetProperty("weightsManifest", out var manifest))
        {
            foreach (var group in manifest.EnumerateArray())
            {
                var buffer = new List<byte>();
                foreach (var p in group.GetProperty("paths").EnumerateArray())
                {
                    buffer.AddRange(readShard(p.GetString()!));
                }

                ReadGroup(name, group.GetProperty("weights"), buffer.ToArray(), weights);
            }
        }

        var outputs = new List<string>();
        if (root.TryGetProperty("userDefinedMetadata", out var meta) && meta.TryGetProperty("signature", out var sig) && sig.TryGetProperty("outputs", out var outs))
        {
            foreach (var o in outs.EnumerateObject())
            {
                var n = o.Value.TryGetProperty("name", out var nn) ? nn.GetString()! : o.Name;
                outputs.Add(n.EndsWith(":0", StringComparison.Ordinal) ? n[..^2] : n);
            }

            outputs.Sort(StringComparer.Ordinal);
        }

        return new TfJsGraphModel(
            name,
            nodes,
            weights,
            outputs,
            root.TryGetProperty("generatedBy", out var g) ? g.GetString() : null,
            root.TryGetProperty("convertedBy", out var c) ? c.GetString() : null);
    }

    private static void ReadGroup(string model, JsonElement specs, byte[] data, Dictionary<string, TfJsWeight> into)
    {
        var offset = 0;
        foreach (var spec in specs.EnumerateArray())
        {
            var name = spec.GetProperty("name").GetString()!;
            var dtype = spec.GetProperty("dtype").GetString()!;
            var shape = spec.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var count = checked((int)shape.Aggregate(1L, (a, b) => a * b));
            float[]? floats = null;
            int[]? ints = null;
            if (spec.TryGetProperty("quantization", out var q))
            {
                var qtype = q.GetProperty("dtype").GetString()!;
                var bytes = qtype switch { "uint8" => 1, "uint16" => 2, "float16" => 2, _ => throw new TfJsImportException($"model '{model}': weight '{name}' uses unsupported quantization dtype '{qtype}'") };
                Need(model, name, data, offset, count * bytes);
                var src = data.AsSpan(offset, count * bytes);
                offset += count * bytes;
                if (qtype == "float16")
                {
                    floats = new float[count];
                    for (var i = 0; i < count; i++)
                    {
                        floats[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(src[(i * 2)..]);
                    }
                }
                else
                {
                    var scale = q.GetProperty("scale").GetSingle();
                    var min = q.GetProperty("min").GetSingle();
                    floats = new float[count];
                    for (var i = 0; i < count; i++)
                    {
                        var v = bytes == 1 ? src[i] : BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]);
                        floats[i] = (v * scale) + min;
                    }
                }

                if (dtype == "int32")
                {
                    ints = [.. floats.Select(v => (int)MathF.Round(v))];
                    floats = null;
                }
                else if (dtype != "float32")
                {
                    throw new TfJsImportException($"model '{model}': weight '{name}' has unsupported dtype '{dtype}'");
                }
            }
            else
            {
                Need(model, name, data, offset, count * 4);
                var src = data.AsSpan(offset, count * 4);
                offset += count * 4;
                switch (dtype)
                {
                    case "float32":
                        floats = new float[count];
                        for (var i = 0; i < count; i++)
                        {
                            floats[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
                        }

                        break;
                    case "int32":
                        ints = new int[count];
                        for (var i = 0; i < count; i++)
                        {
                            ints[i] = BinaryPrimitives.ReadInt32LittleEndian(src[(i * 4)..]);
                        }

                        break;
                    default:
                        throw new TfJsImportException($"model '{model}': weight '{name}' has unsupported dtype '{dtype}'");
                }
            }

            into[name] = new TfJsWeight(name, shape, floats, ints);
        }

        if (offset != data.Length)
        {
            throw new TfJsImportException($"model '{model}': weight shards hold {data.Length} bytes but the manifest describes {offset}");
        }
    }

    private static void Need(string model, string weight, byte[] data, int offset, int bytes)
    {
        if (offset + bytes > data.Length)
        {
            throw new TfJsImportException($"model '{model}': weight shards end before weight '{weight}' ({offset + bytes} bytes needed, {data.Length} present)");
        }
    }
}

/// <summary>A TF.js model the importer cannot convert faithfully; the message names the model, node and op.</summary>
public sealed class TfJsImportException : Exception
{
    public TfJsImportException()
    {
    }

    public TfJsImportException(string message)
        : base(message)
    {
    }

    public TfJsImportException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
