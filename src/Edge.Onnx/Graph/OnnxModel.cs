using Edge.Onnx.Proto;
using Google.Protobuf;

namespace Edge.Onnx.Graph;

/// <summary>Reads and writes ONNX model files and looks into their initializers.</summary>
public static class OnnxModel
{
    /// <summary>Parses a model file. Throws <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/> (naming the file).</summary>
    public static ModelProto Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ONNX model file not found: {path}", path);
        }

        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses model bytes. Throws <see cref="InvalidDataException"/> when they are not an ONNX model.</summary>
    public static ModelProto Load(ReadOnlySpan<byte> bytes) => Parse(bytes);

    public static void Save(ModelProto model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        File.WriteAllBytes(path, ToBytes(model));
    }

    /// <summary>Serialises a model; the same model always gives the same bytes.</summary>
    public static byte[] ToBytes(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.ToByteArray();
    }

    /// <summary>The initializer with this name, or null.</summary>
    public static TensorProto? FindInitializer(ModelProto model, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Graph?.Initializer.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal));
    }

    /// <summary>Reads a float initializer (raw_data or float_data); throws <see cref="KeyNotFoundException"/> when absent.</summary>
    public static float[] ReadFloatInitializer(ModelProto model, string name) =>
        Tensors.ToFloatArray(FindInitializer(model, name) ?? throw new KeyNotFoundException($"No initializer named '{name}'."));

    /// <summary>Reads an int64 initializer (raw_data or int64_data); throws <see cref="KeyNotFoundException"/> when absent.</summary>
    public static long[] ReadInt64Initializer(ModelProto model, string name) =>
        Tensors.ToInt64Array(FindInitializer(model, name) ?? throw new KeyNotFoundException($"No initializer named '{name}'."));

    private static ModelProto Parse(ReadOnlySpan<byte> bytes)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"Not an ONNX model: {e.Message}", e);
        }

        if (model.Graph is null || !model.HasIrVersion)
        {
            throw new InvalidDataException("Not an ONNX model: no graph or no IR version.");
        }

        return model;
    }
}
