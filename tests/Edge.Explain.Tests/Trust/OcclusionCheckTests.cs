using Edge.Explain.Occlusion;

namespace Edge.Explain.Tests.Trust;

public sealed class OcclusionCheckTests
{
    private const int Side = 64;

    /// <summary>A "model" whose score depends only on the mean of the square at (40..56, 8..24).</summary>
    private static float Score(float[] crop)
    {
        double s = 0;
        for (var y = 8; y < 24; y++)
        {
            for (var x = 40; x < 56; x++)
            {
                s += crop[(y * Side) + x];
            }
        }

        return (float)(s / 256);
    }

    private static Heatmap Map(int x0, int y0)
    {
        var r = new float[Side * Side];
        for (var y = y0; y < y0 + 16; y++)
        {
            for (var x = x0; x < x0 + 16; x++)
            {
                r[(y * Side) + x] = 1;
            }
        }

        return new Heatmap("happy", Side, Side, r);
    }

    [Fact]
    public void Run_HeatmapOnTheRegionThatMatters_Agrees()
    {
        var crop = Enumerable.Repeat(1f, Side * Side).ToArray();
        var o = OcclusionCheck.Run(crop, Side, Map(40, 8), 3, 16, new Random(1), Score);
        Assert.Equal((40, 8), (o.TopX, o.TopY));
        Assert.Equal(1f, o.Intact);
        Assert.Equal(0f, o.TopOccluded);
        Assert.False(o.Disagrees);
    }

    [Fact]
    public void Run_HeatmapOnARegionThatDoesNotMatter_DisagreesWhenTheRandomPatchHits()
    {
        var crop = Enumerable.Repeat(1f, Side * Side).ToArray();
        var disagreements = 0;
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var o = OcclusionCheck.Run(crop, Side, Map(0, 40), 3, 16, random, Score);
            Assert.Equal(0f, o.TopDrop);
            disagreements += o.Disagrees ? 1 : 0;
        }

        // a random 16×16 patch overlaps the important square in roughly (31/49)² of positions
        Assert.InRange(disagreements, 40, 160);
    }

    [Fact]
    public void Run_SmallerHeatmap_MappedOntoTheCrop()
    {
        var small = new float[8 * 8];
        small[(1 * 8) + 5] = 1; small[(1 * 8) + 6] = 1; small[(2 * 8) + 5] = 1; small[(2 * 8) + 6] = 1;
        var o = OcclusionCheck.Run(Enumerable.Repeat(1f, Side * Side).ToArray(), Side, new Heatmap("happy", 8, 8, small), 3, 16, new Random(1), Score);
        Assert.Equal((40, 8), (o.TopX, o.TopY));
    }
}
