using Edge.Onnx.Proto;

namespace Edge.Onnx.Quantization;

/// <summary>
/// Static int8 quantization of fp32 ONNX models into QDQ form that ONNX Runtime fuses into integer kernels
/// (QLinearConv, QLinearAdd, uint8 MaxPool, QLinearMatMul/QGemm). See src/Edge.Onnx/README.md, "Quantizer".
/// </summary>
public static partial class Quantizer
{
    /// <summary>The float tensors calibration observes: inputs and outputs of every op the quantizer knows.</summary>
    public static IReadOnlyList<string> CalibrationTargets(ModelProto fp32)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        return QdqRewriter.CalibrationTargets(fp32);
    }

    /// <summary>
    /// Writes the QDQ model for <paramref name="fp32"/> from calibration statistics gathered earlier (one calibration
    /// serves every method and option). Deterministic: the same inputs give a byte-identical model.
    /// </summary>
    public static QuantizationResult Quantize(ModelProto fp32, CalibrationStatistics statistics, QuantizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(options);
        return QdqRewriter.Rewrite(fp32, statistics, options);
    }
}
