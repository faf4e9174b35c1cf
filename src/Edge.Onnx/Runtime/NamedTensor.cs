using System.Runtime.InteropServices;

namespace Edge.Onnx.Runtime;

/// <summary>A named tensor in managed memory: float, int64, int32, uint8 or int8 data with its shape.</summary>
public sealed class NamedTensor
{
    private NamedTensor(string name, TensorElementType elementType, long[] shape, Array data)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(shape);
        var expected = Graph.Tensors.ElementCount(shape);
        if (expected != data.Length)
        {
            throw new ArgumentException(
                $"Tensor '{name}': shape [{string.Join(',', shape)}] holds {expected} elements but {data.Length} were given.", nameof(shape));
        }

        Name = name;
        ElementType = elementType;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }

    public TensorElementType ElementType { get; }

    public long[] Shape { get; }

    /// <summary>The data array (float[], long[], int[], byte[] or sbyte[]); not copied.</summary>
    public Array Data { get; }

    public int ElementCount => Data.Length;

    internal long ByteLength => (long)Data.Length * ElementType.SizeInBytes();

    public static NamedTensor FromFloat(string name, float[] data, params long[] shape) => new(name, TensorElementType.Float, shape, data);

    public static NamedTensor FromInt64(string name, long[] data, params long[] shape) => new(name, TensorElementType.Int64, shape, data);

    public static NamedTensor FromInt32(string name, int[] data, params long[] shape) => new(name, TensorElementType.Int32, shape, data);

    public static NamedTensor FromUInt8(string name, byte[] data, params long[] shape) => new(name, TensorElementType.UInt8, shape, data);

    public static NamedTensor FromInt8(string name, sbyte[] data, params long[] shape) => new(name, TensorElementType.Int8, shape, data);

    public float[] AsFloat() => As<float>(TensorElementType.Float);

    public long[] AsInt64() => As<long>(TensorElementType.Int64);

    public int[] AsInt32() => As<int>(TensorElementType.Int32);

    public byte[] AsUInt8() => As<byte>(TensorElementType.UInt8);

    public sbyte[] AsInt8() => As<sbyte>(TensorElementType.Int8);

    public override string ToString() => $"{Name}: {ElementType}[{string.Join(',', Shape)}]";

    internal static unsafe NamedTensor FromNative(string name, TensorElementType type, long[] shape, void* data, int count) => type switch
    {
        TensorElementType.Float => new(name, type, shape, new ReadOnlySpan<float>(data, count).ToArray()),
        TensorElementType.Int64 => new(name, type, shape, new ReadOnlySpan<long>(data, count).ToArray()),
        TensorElementType.Int32 => new(name, type, shape, new ReadOnlySpan<int>(data, count).ToArray()),
        TensorElementType.UInt8 => new(name, type, shape, new ReadOnlySpan<byte>(data, count).ToArray()),
        TensorElementType.Int8 => new(name, type, shape, new ReadOnlySpan<sbyte>(data, count).ToArray()),
        _ => throw new NotSupportedException($"Output '{name}' has element type {type}; NamedTensor holds float, int64, int32, uint8 and int8."),
    };

    private T[] As<T>(TensorElementType expected)
    {
        if (ElementType != expected)
        {
            throw new InvalidOperationException($"Tensor '{Name}' holds {ElementType}, not {expected}.");
        }

        return (T[])Data;
    }
}

/// <summary>Maps a CLR element type to its tensor element type.</summary>
internal static class ElementTypeOf<T>
    where T : unmanaged
{
    public static readonly TensorElementType Value =
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(T) == typeof(long) ? TensorElementType.Int64
        : typeof(T) == typeof(int) ? TensorElementType.Int32
        : typeof(T) == typeof(byte) ? TensorElementType.UInt8
        : typeof(T) == typeof(sbyte) ? TensorElementType.Int8
        : typeof(T) == typeof(double) ? TensorElementType.Double
        : typeof(T) == typeof(short) ? TensorElementType.Int16
        : typeof(T) == typeof(ushort) ? TensorElementType.UInt16
        : typeof(T) == typeof(uint) ? TensorElementType.UInt32
        : typeof(T) == typeof(ulong) ? TensorElementType.UInt64
        : typeof(T) == typeof(bool) ? TensorElementType.Bool
        : typeof(T) == typeof(Half) ? TensorElementType.Float16
        : TensorElementType.Undefined;

    public static int Size => Marshal.SizeOf<T>();
}
