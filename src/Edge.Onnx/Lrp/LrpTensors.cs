using System.Runtime.InteropServices;
using Edge.Onnx.Proto;
using Google.Protobuf;

namespace Edge.Onnx.Lrp;

/// <summary>Reading and writing the few tensor encodings the compiler meets (float and int64, raw or typed).</summary>
internal static class LrpTensors
{
    public static float[] ReadFloats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidOperationException($"tensor '{t.Name}' is data type {t.DataType}, not float");
        }

        if (t.HasRawData)
        {
            return MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        }

        return [.. t.FloatData];
    }

    /// <summary>Integer tensor values (int8, uint8, int32, int64) as longs, e.g. quantized weights and zero points.</summary>
    public static long[] ReadIntegers(TensorProto t)
    {
        return (TensorProto.Types.DataType)t.DataType switch
        {
            TensorProto.Types.DataType.Int8 => t.HasRawData ? [.. MemoryMarshal.Cast<byte, sbyte>(t.RawData.Span).ToArray().Select(v => (long)v)] : [.. t.Int32Data.Select(v => (long)v)],
            TensorProto.Types.DataType.Uint8 => t.HasRawData ? [.. t.RawData.Span.ToArray().Select(v => (long)v)] : [.. t.Int32Data.Select(v => (long)v)],
            _ => ReadInt64s(t),
        };
    }

    public static long[] ReadInt64s(TensorProto t)
    {
        if (t.DataType == (int)TensorProto.Types.DataType.Int64)
        {
            return t.HasRawData ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : [.. t.Int64Data];
        }

        if (t.DataType == (int)TensorProto.Types.DataType.Int32)
        {
            var ints = t.HasRawData ? MemoryMarshal.Cast<byte, int>(t.RawData.Span).ToArray() : [.. t.Int32Data];
            return [.. ints.Select(i => (long)i)];
        }

        throw new InvalidOperationException($"tensor '{t.Name}' is data type {t.DataType}, not an integer type");
    }

    public static TensorProto Floats(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    public static TensorProto Int64s(string name, long[] dims, ReadOnlySpan<long> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    public static long Product(ReadOnlySpan<long> dims)
    {
        long p = 1;
        foreach (var d in dims)
        {
            p *= d;
        }

        return p;
    }
}
