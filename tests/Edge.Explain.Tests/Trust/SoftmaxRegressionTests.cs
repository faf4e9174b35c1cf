using Edge.Explain.Adaptation;

namespace Edge.Explain.Tests.Trust;

public sealed class SoftmaxRegressionTests
{
    private static (List<float[]> X, List<int> Y) Data()
    {
        var rng = new Random(3);
        var x = new List<float[]>();
        var y = new List<int>();
        for (var i = 0; i < 300; i++)
        {
            var c = i % 3;
            x.Add([(float)((c == 0 ? 2 : -1) + rng.NextDouble()), (float)((c == 1 ? 2 : -1) + rng.NextDouble())]);
            y.Add(c);
        }

        return (x, y);
    }

    [Fact]
    public void Train_SeparableClassesFromZero_LearnsThem()
    {
        var (x, y) = Data();
        var fit = SoftmaxRegression.Train(x, y, new float[6], new float[3], 0f, 500, 0.05f, CancellationToken.None);
        Assert.True(fit.AccuracyAfter > 0.95, $"{fit.AccuracyAfter}");
        Assert.True(fit.LossAfter < fit.LossBefore);
    }

    [Fact]
    public void Train_HugeL2_StaysAtThePretrainedWeights()
    {
        var (x, y) = Data();
        float[] w0 = [0.3f, -0.2f, 0.1f, 0.4f, -0.5f, 0.05f];
        var fit = SoftmaxRegression.Train(x, y, w0, [0.1f, 0f, -0.1f], 1e6f, 300, 0.01f, CancellationToken.None);
        for (var i = 0; i < w0.Length; i++)
        {
            Assert.Equal(w0[i], fit.Weight[i], 2);
        }
    }

    [Fact]
    public void Train_LabelOutOfRange_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxRegression.Train([[1f, 2f]], [5], new float[6], new float[3], 0f, 1, 0.1f, CancellationToken.None));
}
