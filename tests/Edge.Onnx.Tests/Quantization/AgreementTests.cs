using Edge.Onnx.Quantization;

namespace Edge.Onnx.Tests.Quantization;

public sealed class AgreementTests
{
    private static readonly string[] Classes = ["a", "b", "c"];

    [Fact]
    public void Compare_OneFlippedTopClass_CountsItAgainstTheFloatClass()
    {
        float[][] fp32 = [[0.7f, 0.2f, 0.1f], [0.1f, 0.8f, 0.1f], [0.45f, 0.4f, 0.15f]];
        float[][] int8 = [[0.68f, 0.22f, 0.1f], [0.1f, 0.8f, 0.1f], [0.4f, 0.45f, 0.15f]];
        var result = Agreement.Compare(fp32, int8, Classes);

        Assert.Equal(3, result.Count);
        Assert.Equal(2, result.Top1Agreeing);
        Assert.Equal(2.0 / 3, result.Top1, 9);
        Assert.Equal(2, result.Classes[0].Fp32Top1);
        Assert.Equal(1, result.Classes[0].Agreeing);
        Assert.Equal(1, result.Classes[1].Agreeing);
        Assert.Equal((0.02 + 0 + 0.05) / 3, result.Classes[0].MeanAbsDelta, 6);
        Assert.Equal(0.05, result.Classes[1].MaxAbsDelta, 6);
        Assert.Equal(0, result.Classes[2].Fp32Top1);
    }

    [Fact]
    public void Compare_RowCountsDiffer_Throws()
    {
        Assert.Throws<ArgumentException>(() => Agreement.Compare([[1f, 0f, 0f]], [], Classes));
    }
}
