using System.Buffers.Binary;
using Edge.Onnx.Proto;
using Google.Protobuf;

namespace Edge.Onnx.Graph;

/// <summary>
/// Makes <see cref="TensorProto"/> values (data in <c>raw_data</c>, little-endian as ONNX requires) and reads
/// them back whichever field holds the data (<c>raw_data</c> or the typed <c>*_data</c> fields).
/// </summary>
public static class Tensors
{
    public static TensorProto Create(string name, float[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var bytes = new byte[data.Length * sizeof(float)];
        for (var i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), data[i]);
        }

        return Make(name, TensorElementType.Float, data.Length, bytes, dims);
    }

    public static TensorProto Create(string name, long[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var bytes = new byte[data.Length * sizeof(long)];
        for (var i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), data[i]);
        }

        return Make(name, TensorElementType.Int64, data.Length, bytes, dims);
    }

    public static TensorProto Create(string name, int[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var bytes = new byte[data.Length * sizeof(int)];
        for (var i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), data[i]);
        }

        return Make(name, TensorElementType.Int32, data.Length, bytes, dims);
    }

    public static TensorProto Create(string name, sbyte[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        var bytes = new byte[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            bytes[i] = unchecked((byte)data[i]);
        }

        return Make(name, TensorElementType.Int8, data.Length, bytes, dims);
    }

    public static TensorProto Create(string name, byte[] data, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Make(name, TensorElementType.UInt8, data.Length, (byte[])data.Clone(), dims);
    }

    /// <summary>Number of elements a tensor of these dimensions holds (1 for a scalar).</summary>
    public static long ElementCount(IEnumerable<long> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long n = 1;
        foreach (var d in dims)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(dims));
            n = checked(n * d);
        }

        return n;
    }

    /// <summary>Reads a float tensor from <c>raw_data</c> or <c>float_data</c>.</summary>
    public static float[] ToFloatArray(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Expect(tensor, TensorElementType.Float);
        if (tensor.HasRawData)
        {
            var raw = RawSpan(tensor, sizeof(float));
            var result = new float[raw.Length / sizeof(float)];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * sizeof(float))..]);
            }

            return result;
        }

        return CheckCount(tensor, tensor.FloatData.ToArray());
    }

    /// <summary>Reads an int64 tensor from <c>raw_data</c> or <c>int64_data</c>.</summary>
    public static long[] ToInt64Array(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Expect(tensor, TensorElementType.Int64);
        if (tensor.HasRawData)
        {
            var raw = RawSpan(tensor, sizeof(long));
            var result = new long[raw.Length / sizeof(long)];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(i * sizeof(long))..]);
            }

            return result;
        }

        return CheckCount(tensor, tensor.Int64Data.ToArray());
    }

    /// <summary>Reads an int32 tensor from <c>raw_data</c> or <c>int32_data</c>.</summary>
    public static int[] ToInt32Array(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Expect(tensor, TensorElementType.Int32);
        if (tensor.HasRawData)
        {
            var raw = RawSpan(tensor, sizeof(int));
            var result = new int[raw.Length / sizeof(int)];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(i * sizeof(int))..]);
            }

            return result;
        }

        return CheckCount(tensor, tensor.Int32Data.ToArray());
    }

    /// <summary>Reads an int8 tensor from <c>raw_data</c> or <c>int32_data</c> (where ONNX stores small integers).</summary>
    public static sbyte[] ToSByteArray(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Expect(tensor, TensorElementType.Int8);
        if (tensor.HasRawData)
        {
            var raw = RawSpan(tensor, 1);
            var result = new sbyte[raw.Length];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = unchecked((sbyte)raw[i]);
            }

            return result;
        }

        return CheckCount(tensor, tensor.Int32Data.Select(v => checked((sbyte)v)).ToArray());
    }

    /// <summary>Reads a uint8 tensor from <c>raw_data</c> or <c>int32_data</c>.</summary>
    public static byte[] ToByteArray(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Expect(tensor, TensorElementType.UInt8);
        if (tensor.HasRawData)
        {
            return RawSpan(tensor, 1).ToArray();
        }

        return CheckCount(tensor, tensor.Int32Data.Select(v => checked((byte)v)).ToArray());
    }

    private static TensorProto Make(string name, TensorElementType type, int count, byte[] raw, long[] dims)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(dims);
        var expected = ElementCount(dims);
        if (expected != count)
        {
            throw new ArgumentException(
                $"Tensor '{name}': dims [{string.Join(',', dims)}] hold {expected} elements but {count} were given.", nameof(dims));
        }

        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static void Expect(TensorProto tensor, TensorElementType type)
    {
        if (tensor.DataType != (int)type)
        {
            throw new InvalidOperationException(
                $"Tensor '{tensor.Name}' has element type {(TensorElementType)tensor.DataType}, not {type}.");
        }
    }

    private static ReadOnlySpan<byte> RawSpan(TensorProto tensor, int elementSize)
    {
        var raw = tensor.RawData.Span;
        var expected = ElementCount(tensor.Dims) * elementSize;
        if (raw.Length != expected)
        {
            throw new InvalidDataException(
                $"Tensor '{tensor.Name}': raw_data has {raw.Length} bytes, dims [{string.Join(',', tensor.Dims)}] need {expected}.");
        }

        return raw;
    }

    private static T[] CheckCount<T>(TensorProto tensor, T[] values)
    {
        var expected = ElementCount(tensor.Dims);
        if (values.Length != expected)
        {
            throw new InvalidDataException(
                $"Tensor '{tensor.Name}': {values.Length} values, dims [{string.Join(',', tensor.Dims)}] need {expected}.");
        }

        return values;
    }
}
