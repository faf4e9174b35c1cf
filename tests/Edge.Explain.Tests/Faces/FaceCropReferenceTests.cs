using System.Security.Cryptography;
using System.Text.Json;
using Edge.Explain.Faces;

namespace Edge.Explain.Tests.Faces;

/// <summary>FaceCrop.Extract against TensorFlow's crop_and_resize run by tools/reference on the same frames.</summary>
public sealed class FaceCropReferenceTests
{
    public static TheoryData<int> Cases() => [0, 1, 2];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Extract_RealFrame_MatchesTensorFlowCropAndResizeWithin1e3(int index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(FaceTestData.ReferenceFixturePath()));
        var c = doc.RootElement.GetProperty("faceCrops")[index];
        var (w, h) = (c.GetProperty("width").GetInt32(), c.GetProperty("height").GetInt32());
        var rgb = FaceTestData.Rgb24(FaceTestData.Face(c.GetProperty("image").GetString()!), "null", w, h);
        Assert.Equal(c.GetProperty("inputSha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(rgb)));
        var b = c.GetProperty("box").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var every = c.GetProperty("every").GetInt32();
        var expected = c.GetProperty("values").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var crop = new float[64 * 64];

        FaceCrop.Extract(rgb, w, h, new FaceBox(b[0], b[1], b[2], b[3]), c.GetProperty("margin").GetSingle(), crop);

        for (var k = 0; k < expected.Length; k++)
        {
            var i = k * every;
            Assert.True(Math.Abs(expected[k] - crop[i]) <= 1e-3f, $"pixel {i % 64},{i / 64}: {crop[i]} vs TF {expected[k]}");
        }
    }
}
