using Edge.Explain.Faces;

namespace Edge.Explain.Tests.Faces;

public sealed class ImageOpsTests
{
    [Fact]
    public void Resize_WideFrame_PadsTopAndBottomWithBlackAndKeepsColour()
    {
        // 8x4 frame of (255, 0, 127.5-ish) into 8x8: rows 0-1 and 6-7 are padding.
        var rgb = new byte[8 * 4 * 3];
        for (var i = 0; i < rgb.Length; i += 3)
        {
            (rgb[i], rgb[i + 1], rgb[i + 2]) = (255, 0, 51);
        }

        var r = new LetterboxResizer(8);
        var dst = new float[8 * 8 * 3];

        r.Resize(rgb, 8, 4, dst);

        Assert.Equal(2f, r.PadY);
        Assert.Equal(0f, r.PadX);
        Assert.All(dst.AsSpan(0, 8 * 3).ToArray(), v => Assert.Equal(-1f, v, 5));
        Assert.All(dst.AsSpan(7 * 8 * 3, 8 * 3).ToArray(), v => Assert.Equal(-1f, v, 5));
        var mid = (4 * 8 * 3) + (4 * 3);
        Assert.Equal(1f, dst[mid], 5);
        Assert.Equal(-1f, dst[mid + 1], 5);
        Assert.Equal((51f / 127.5f) - 1f, dst[mid + 2], 5);
        Assert.Equal((4f, 2f), r.ToSource(4f, 4f));
    }

    [Fact]
    public void Extract_UniformGreyFrame_GivesConstantNormalisedGrey()
    {
        var rgb = Enumerable.Repeat((byte)200, 100 * 80 * 3).ToArray();
        var dst = new float[64 * 64];

        FaceCrop.Extract(rgb, 100, 80, new FaceBox(30, 20, 60, 50), 1.2f, dst);

        var expected = ((0.2989f + 0.587f + 0.114f) * 200f / 255f * 2f) - 1f;
        Assert.All(dst, v => Assert.Equal(expected, v, 4));
    }

    [Fact]
    public void Extract_BoxAtFrameEdge_FillsOutsideWithBlack()
    {
        var rgb = Enumerable.Repeat((byte)255, 50 * 50 * 3).ToArray();
        var dst = new float[64 * 64];

        FaceCrop.Extract(rgb, 50, 50, new FaceBox(-20, 10, 20, 40), 1f, dst);

        Assert.Equal(-1f, dst[(32 * 64) + 0], 5);
        Assert.True(dst[(32 * 64) + 63] > 0.99f);
    }

    [Fact]
    public void SquareAround_WideBox_IsSquareOfMarginTimesLongerSideOnSameCentre()
    {
        var sq = FaceCrop.SquareAround(new FaceBox(10, 20, 110, 70), 1.2f);

        Assert.Equal(120f, sq.Width, 4);
        Assert.Equal(120f, sq.Height, 4);
        Assert.Equal(60f, (sq.X1 + sq.X2) / 2, 4);
        Assert.Equal(45f, (sq.Y1 + sq.Y2) / 2, 4);
    }
}
