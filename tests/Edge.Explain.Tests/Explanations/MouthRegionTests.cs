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
    public void Around_BadInput_Throws()
    {
        Assert.Throws<ArgumentException>(() => MouthRegion.Around(new FacePoint(float.NaN, 1f), 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => MouthRegion.Around(new FacePoint(1f, 1f), 2));
        Assert.Throws<ArgumentException>(() => MouthRegion.Around(new FacePoint(1f, 1f), 64).PositiveShare(new float[10], 64));
    }
}
