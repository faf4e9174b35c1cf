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
    public async Task OverlayPng_PositiveAndNegative_RedAndBlueOverGrey()
    {
        float[] map = [1f, -1f, 0f, 0f];
        float[] grey = [0.5f, 0.5f, 0.5f, 0.5f];
        var rgb = await DecodeAsync(HeatmapImages.OverlayPng(map, grey, 2, 2, zoom: 1), 2, 2);
        Assert.True(rgb[0] > 200 && rgb[1] < 60 && rgb[2] < 60, $"positive pixel {rgb[0]},{rgb[1]},{rgb[2]}");
        Assert.True(rgb[5] > 200 && rgb[3] < 60 && rgb[4] < 60, $"negative pixel {rgb[3]},{rgb[4]},{rgb[5]}");
        Assert.Equal(new byte[] { 127, 127, 127 }, rgb[6..9]);
    }

    private static async Task<byte[]> DecodeAsync(byte[] png, int w, int h)
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-png-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(path, png);
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
            await p.WaitForExitAsync();
            Assert.Equal(w * h * 3, (int)ms.Length);
            return ms.ToArray();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
