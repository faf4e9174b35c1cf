namespace Edge.Onnx;

/// <summary>
/// Element type of a tensor. The values are those of ONNX <c>TensorProto.DataType</c>, which are
/// also those of ORT's <c>ONNXTensorElementDataType</c>, so one enum serves the graph model and the runtime.
/// </summary>
public enum TensorElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    BFloat16 = 16,
}

/// <summary>Sizes of the element types Edge moves through memory.</summary>
public static class TensorElementTypeExtensions
{
    /// <summary>Bytes per element, or 0 for types without a fixed size (string, undefined).</summary>
    public static int SizeInBytes(this TensorElementType type) => type switch
    {
        TensorElementType.Float => 4,
        TensorElementType.UInt8 => 1,
        TensorElementType.Int8 => 1,
        TensorElementType.UInt16 => 2,
        TensorElementType.Int16 => 2,
        TensorElementType.Int32 => 4,
        TensorElementType.Int64 => 8,
        TensorElementType.Bool => 1,
        TensorElementType.Float16 => 2,
        TensorElementType.Double => 8,
        TensorElementType.UInt32 => 4,
        TensorElementType.UInt64 => 8,
        TensorElementType.Complex64 => 8,
        TensorElementType.Complex128 => 16,
        TensorElementType.BFloat16 => 2,
        _ => 0,
    };
}
