using Edge.Explain.Faces;

namespace Edge.Explain.Tests.Faces;

public sealed class BlazeFaceDecoderTests
{
    private static (float[] LogitsFine, float[] LogitsCoarse, float[] BoxesFine, float[] BoxesCoarse) Empty()
    {
        var lf = new float[512];
        var lc = new float[384];
        Array.Fill(lf, -10f);
        Array.Fill(lc, -10f);
        return (lf, lc, new float[512 * 16], new float[384 * 16]);
    }

    [Fact]
    public void AnchorCentre_Back256_FollowsBothGrids()
    {
        var d = new BlazeFaceDecoder(256);

        Assert.Equal((8f, 8f), d.AnchorCentre(0));
        Assert.Equal((8f, 8f), d.AnchorCentre(1));
        Assert.Equal((24f, 8f), d.AnchorCentre(2));
        Assert.Equal((248f, 248f), d.AnchorCentre(511));
        Assert.Equal((16f, 16f), d.AnchorCentre(512));
        Assert.Equal((16f, 16f), d.AnchorCentre(517));
        Assert.Equal((48f, 16f), d.AnchorCentre(518));
        Assert.Equal((240f, 240f), d.AnchorCentre(895));
    }

    [Fact]
    public void Decode_OneConfidentAnchor_GivesItsBoxAndSigmoidScore()
    {
        var (lf, lc, bf, bc) = Empty();
        lc[10] = 2f; // anchor 522: coarse cell 1 (x = 1, y = 0) -> centre (48, 16)
        bc[(10 * 16) + 0] = 4f;
        bc[(10 * 16) + 1] = -2f;
        bc[(10 * 16) + 2] = 40f;
        bc[(10 * 16) + 3] = 60f;
        bc[(10 * 16) + 4 + (2 * BlazeFaceDecoder.MouthKeypoint)] = 3f; // the mouth keypoint, (x, y) from the anchor
        bc[(10 * 16) + 5 + (2 * BlazeFaceDecoder.MouthKeypoint)] = 20f;
        bc[(10 * 16) + 4] = -9f; // another keypoint (an eye): not the mouth
        var found = new FaceDetection[20];

        var n = new BlazeFaceDecoder(256).Decode(lf, lc, bf, bc, 0.5f, 0.3f, 1f, found);

        Assert.Equal(1, n);
        Assert.Equal(522, found[0].Anchor);
        Assert.Equal(1f / (1f + MathF.Exp(-2f)), found[0].Score, 6);
        Assert.Equal((32f, -16f, 72f, 44f), (found[0].X1, found[0].Y1, found[0].X2, found[0].Y2));
        Assert.Equal((51f, 36f), (found[0].MouthX, found[0].MouthY));
    }

    [Fact]
    public void Decode_OverlappingBoxes_KeepsBestAndDropsOverlapAboveIou()
    {
        var (lf, lc, bf, bc) = Empty();
        // Two anchors of the same fine cell (same centre) with near-identical boxes, and a far-away third.
        lf[40] = 1f;
        lf[41] = 3f;
        lf[300] = 0.5f;
        foreach (var a in new[] { 40, 41, 300 })
        {
            bf[(a * 16) + 2] = 50f;
            bf[(a * 16) + 3] = 50f;
        }

        bf[(40 * 16) + 0] = 2f;
        var found = new FaceDetection[20];

        var n = new BlazeFaceDecoder(256).Decode(lf, lc, bf, bc, 0.5f, 0.3f, 1f, found);

        Assert.Equal(2, n);
        Assert.Equal(41, found[0].Anchor);
        Assert.Equal(300, found[1].Anchor);
    }

    [Theory]
    [InlineData(1f, 2)]
    [InlineData(0.7f, 1)]
    public void Decode_SmallBoxInsideBetterBox_IsDroppedOnlyWithNestedRule(float nestedThreshold, int expected)
    {
        var (lf, lc, bf, bc) = Empty();
        // Anchor 100 (centre (104, 56)): a 120x120 box; anchor 101, same centre: a 40x40 box inside it (IoU 0.11).
        lf[100] = 3f;
        lf[101] = 1f;
        (bf[(100 * 16) + 2], bf[(100 * 16) + 3]) = (120f, 120f);
        (bf[(101 * 16) + 2], bf[(101 * 16) + 3]) = (40f, 40f);
        var found = new FaceDetection[20];

        var n = new BlazeFaceDecoder(256).Decode(lf, lc, bf, bc, 0.5f, 0.3f, nestedThreshold, found);

        Assert.Equal(expected, n);
        Assert.Equal(100, found[0].Anchor);
    }

    [Fact]
    public void Decode_ScoresBelowThreshold_FindNothing()
    {
        var (lf, lc, bf, bc) = Empty();
        lf[7] = -0.1f; // sigmoid 0.475 < 0.5
        bf[(7 * 16) + 2] = 10f;
        bf[(7 * 16) + 3] = 10f;

        Assert.Equal(0, new BlazeFaceDecoder(256).Decode(lf, lc, bf, bc, 0.5f, 0.3f, 1f, new FaceDetection[5]));
    }

    [Fact]
    public void Iou_HalfOverlap_IsOneThird()
    {
        var a = new FaceDetection { X1 = 0, Y1 = 0, X2 = 2, Y2 = 2 };
        var b = new FaceDetection { X1 = 1, Y1 = 0, X2 = 3, Y2 = 2 };

        Assert.Equal(1f / 3f, BlazeFaceDecoder.Iou(a, b), 6);
    }
}
