using Edge.Explain.Explanations;

namespace Edge.Explain.Tests.Explanations;

public sealed class MouthRegionTests
{
    [Fact]
    public void Around_MouthInTheMiddle_IsAHalfWideBoxCentredOnIt()
    {
        var r = MouthRegion.Around(new FacePoint(32f, 40f), 64);
        Assert.Equal(new MouthRegion(16, 30, 48, 49), r); // 40 − 9.5 rounds to even
        Assert.Equal(32 * 19 / 4096.0, r.AreaShare(64), 9);
    }

    [Fact]
    public void Around_MouthNearTheEdge_StaysInsideTheMap()
    {
        var r = MouthRegion.Around(new FacePoint(70f, 63f), 64);
        Assert.Equal((32, 45, 64, 64), (r.X0, r.Y0, r.X1, r.Y1));
    }

    [Fact]
    public void PositiveShare_CountsOnlyPositiveRelevance()
    {
        var map = new float[64 * 64];
        map[(40 * 64) + 32] = 3f; // inside
        map[(5 * 64) + 5] = 1f; // outside
        map[(41 * 64) + 30] = -50f; // negative, inside: ignored
        var r = MouthRegion.Around(new FacePoint(32f, 40f), 64);
        Assert.Equal(0.75, r.PositiveShare(map, 64), 9);
        Assert.Equal(0, r.PositiveShare(new float[64 * 64], 64));
    }

    [Fact]
    public void Densest_RelevanceAboveTheMouth_FindsItThereNotAtTheKeypoint()
    {
        var map = new float[64 * 64];
        for (var y = 8; y < 12; y++)
        {
            for (var x = 40; x < 44; x++)
            {
                map[(y * 64) + x] = 1f; // a blob near the top right
            }
        }

        map[(45 * 64) + 32] = 3f; // one hot pixel at the mouth: less than the blob's 16
        map[(20 * 64) + 20] = -100f; // negative relevance does not count
        var mouth = MouthRegion.Around(new FacePoint(32f, 45f), 64);
        var densest = mouth.Densest(map, 64);
        Assert.Equal((mouth.X1 - mouth.X0, mouth.Y1 - mouth.Y0), (densest.X1 - densest.X0, densest.Y1 - densest.Y0));
        Assert.Equal(1.0 * 16 / 19, densest.PositiveShare(map, 64), 9);
        Assert.False(densest.Contains(new FacePoint(32f, 45f)));

        map[(46 * 64) + 33] = 20f; // now the mouth holds more
        Assert.True(mouth.Densest(map, 64).Contains(new FacePoint(32f, 45f)));
    }

    [Fact]
    public void Densest_EmptyMap_IsTheTopLeftBox()
    {
        var densest = MouthRegion.Around(new FacePoint(32f, 40f), 64).Densest(new float[64 * 64], 64);
        Assert.Equal(new MouthRegion(0, 0, 32, 19), densest);
        Assert.True(densest.Contains(new FacePoint(0f, 0f)));
        Assert.False(densest.Contains(new FacePoint(32f, 0f)));
    }

    [Fact]
    public void Around_BadInput_Throws()
    {
        Assert.Throws<ArgumentException>(() => MouthRegion.Around(new FacePoint(float.NaN, 1f), 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => MouthRegion.Around(new FacePoint(1f, 1f), 2));
        Assert.Throws<ArgumentException>(() => MouthRegion.Around(new FacePoint(1f, 1f), 64).PositiveShare(new float[10], 64));
        Assert.Throws<ArgumentException>(() => MouthRegion.Around(new FacePoint(1f, 1f), 64).Densest(new float[10], 64));
    }
}
