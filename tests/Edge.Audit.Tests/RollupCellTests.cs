using System.Buffers.Binary;
using Edge.Audit.Ingest;
using Edge.Audit.Storage;

namespace Edge.Audit.Tests;

public sealed class RollupCellTests
{
    private static RollupCell RandomCell(int seed, int events)
    {
        var rng = new Random(seed);
        var cell = new RollupCell();
        var scores = new float[ExpressionClasses.Count];
        for (var e = 0; e < events; e++)
        {
            var happy = (float)rng.NextDouble();
            for (var i = 0; i < scores.Length; i++)
            {
                scores[i] = (1 - happy) * (float)rng.NextDouble() * 0.2f;
            }

            scores[3] = happy;
            cell.Add(scores, rng.Next(10) == 0);
        }

        return cell;
    }

    /// <summary>The first layout: one little-endian int32 per bin.</summary>
    private static byte[] FixedLayout(long[] hist)
    {
        var blob = new byte[RollupCell.HistBytes];
        for (var i = 0; i < hist.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(i * sizeof(int)), (int)hist[i]);
        }

        return blob;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(700)]
    [InlineData(250_000)]
    public void HistBlob_MergedBack_SameBinsAndSmallerThanFixedLayout(int events)
    {
        var cell = RandomCell(events, events);

        var blob = cell.HistBlob();
        var back = new RollupCell();
        back.MergeHist(blob);

        Assert.Equal(cell.Hist, back.Hist);
        Assert.True(blob.Length < RollupCell.HistBytes / 4, $"{blob.Length} bytes");
    }

    [Fact]
    public void MergeHist_FixedLayout_ReadAsBefore()
    {
        var cell = RandomCell(3, 5_000);

        var back = new RollupCell();
        back.MergeHist(FixedLayout(cell.Hist));

        Assert.Equal(cell.Hist, back.Hist);
    }

    [Fact]
    public void HistBlob_CompactWouldBeAsLongAsFixedLayout_PaddedSoLengthStillTellsThemApart()
    {
        // Every bin non-empty with a count that takes four varint bytes: 350 × 4 = 1,400 bytes before padding.
        var cell = new RollupCell();
        for (var i = 0; i < cell.Hist.Length; i++)
        {
            cell.Hist[i] = 1 << 21;
        }

        var blob = cell.HistBlob();
        var back = new RollupCell();
        back.MergeHist(blob);

        Assert.Equal(RollupCell.HistBytes + 1, blob.Length);
        Assert.Equal(cell.Hist, back.Hist);
    }

    [Theory]
    [InlineData(new byte[] { 0x02 })] // one bin of 1, then nothing
    [InlineData(new byte[] { 0xBF, 0x05, 0x02 })] // 351 empty bins and one more
    [InlineData(new byte[] { 0x80 })] // a number that does not end
    public void MergeHist_NotExactlyAllBins_Throws(byte[] blob)
    {
        Assert.Throws<InvalidDataException>(() => new RollupCell().MergeHist(blob));
    }
}
