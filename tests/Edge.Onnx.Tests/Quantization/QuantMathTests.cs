using Edge.Onnx.Quantization;

namespace Edge.Onnx.Tests.Quantization;

public sealed class QuantMathTests
{
    [Fact]
    public void ForActivation_UInt8AsymmetricRange_ZeroIsExactAndEndsMap()
    {
        var p = QuantParams.ForActivation(new TensorRange(-1f, 3f), ActivationType.UInt8);
        Assert.Equal(4f / 255f, p.Scale, 6);
        Assert.Equal(64, p.ZeroPoint);
        Assert.Equal(p.ZeroPoint, p.Quantize(0f, 0, 255));
        Assert.Equal(0, p.Quantize(-1f, 0, 255));
        Assert.Equal(255, p.Quantize(3f, 0, 255));
        Assert.Equal(255, p.Quantize(100f, 0, 255));
    }

    [Fact]
    public void ForActivation_NonNegativeRange_ZeroPointIsZero()
    {
        var p = QuantParams.ForActivation(new TensorRange(0.5f, 6f), ActivationType.UInt8);
        Assert.Equal(0, p.ZeroPoint);
        Assert.Equal(6f / 255f, p.Scale, 6);
    }

    [Fact]
    public void ForActivation_Int8_IsSymmetricWithZeroPointZero()
    {
        var p = QuantParams.ForActivation(new TensorRange(-2f, 5f), ActivationType.Int8);
        Assert.Equal(0, p.ZeroPoint);
        Assert.Equal(5f / 127f, p.Scale, 6);
    }

    [Fact]
    public void ForActivation_EmptyRange_UsesScaleOne()
    {
        var p = QuantParams.ForActivation(new TensorRange(0f, 0f), ActivationType.UInt8);
        Assert.Equal(new QuantParams(1f, 0), p);
    }

    [Fact]
    public void Quantize_HalfwayValue_RoundsToEven()
    {
        var p = new QuantParams(1f, 0);
        Assert.Equal(2, p.Quantize(2.5f, -128, 127));
        Assert.Equal(4, p.Quantize(3.5f, -128, 127));
        Assert.Equal(-2, p.Quantize(-2.5f, -128, 127));
    }

    [Fact]
    public void PerChannel_Axis0_EachChannelAbsMaxMapsTo127()
    {
        // Two output channels of 1×1×2: channel 0 spans ±0.5, channel 1 spans ±4.
        float[] w = [0.5f, -0.25f, -4f, 1f];
        var (values, scales) = WeightQuantizer.PerChannel(w, [2, 1, 1, 2], 0);
        Assert.Equal([0.5f / 127f, 4f / 127f], scales);
        Assert.Equal(new sbyte[] { 127, -64, -127, 32 }, values);
    }

    [Fact]
    public void PerChannel_Axis1_ScalesFollowColumns()
    {
        // [K=2, N=2] MatMul weight: column 0 is {1, -2}, column 1 is {0.1, 0.05}.
        float[] w = [1f, 0.1f, -2f, 0.05f];
        var (values, scales) = WeightQuantizer.PerChannel(w, [2, 2], 1);
        Assert.Equal(2f / 127f, scales[0], 7);
        Assert.Equal(0.1f / 127f, scales[1], 7);
        Assert.Equal(new sbyte[] { 64, 127, -127, 64 }, values);
    }

    [Fact]
    public void PerChannel_AllZeroChannel_GetsScaleOneAndZeros()
    {
        var (values, scales) = WeightQuantizer.PerChannel([0f, 0f, 1f, 1f], [2, 2], 0);
        Assert.Equal(1f, scales[0]);
        Assert.Equal(new sbyte[] { 0, 0, 127, 127 }, values);
    }

    [Fact]
    public void Bias_ScaleIsInputScaleTimesWeightScale()
    {
        var (values, scales) = WeightQuantizer.Bias([0.3f, -1f], 0.01f, [0.5f, 0.1f]);
        Assert.Equal(0.005f, scales[0], 7);
        Assert.Equal(0.001f, scales[1], 7);
        Assert.Equal([60, -1000], values);
    }

    [Fact]
    public void Bias_OverflowingInt32_Throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => WeightQuantizer.Bias([1e6f], 1e-6f, [1e-6f]));
        Assert.Contains("overflows int32", e.Message, StringComparison.Ordinal);
    }
}
