using System.Text.Json;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.TfJs;

/// <summary>The converted models against the upstream TF.js models run in Node on the same real faces.</summary>
public sealed class TfJsReferenceTests(ReferenceFixture fixture) : IClassFixture<ReferenceFixture>
{
    private const float ClassifierTolerance = 1e-4f;
    private const float DetectorTolerance = 1e-3f;

    [Theory]
    [InlineData("emotion")]
    [InlineData("gender")]
    public void Classifier_RealFaceCrops_MatchTfJsWithin1e4(string model)
    {
        using var session = fixture.Session(model);
        var crops = fixture.Document.RootElement.GetProperty("crops").EnumerateArray().ToList();
        Assert.True(crops.Count >= 20, $"only {crops.Count} reference crops");
        var worst = 0f;
        var worstImage = string.Empty;
        foreach (var crop in crops)
        {
            var grey = ReferenceFixture.Decode(crop);
            var input = new float[64 * 64];
            for (var i = 0; i < input.Length; i++)
            {
                input[i] = (float)(((grey[i] / 255.0) - 0.5) * 2.0);
            }

            var output = session.Run(NamedTensor.FromFloat("input_1", input, 1, 64, 64, 1))[0].AsFloat();
            var expected = crop.GetProperty(model).EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(expected.Length, output.Length);
            for (var k = 0; k < expected.Length; k++)
            {
                var d = Math.Abs(expected[k] - output[k]);
                if (d > worst)
                {
                    (worst, worstImage) = (d, crop.GetProperty("image").GetString()!);
                }
            }
        }

        Assert.True(worst <= ClassifierTolerance, $"{model}: max abs diff {worst:G3} on {worstImage} exceeds {ClassifierTolerance}");
    }

    [Theory]
    [InlineData("blazeface-back")]
    [InlineData("blazeface-front")]
    public void BlazeFace_RealImages_LogitsAndBoxesMatchTfJsWithin1e3(string model)
    {
        using var session = fixture.Session(model);
        foreach (var entry in fixture.Document.RootElement.GetProperty("detectors").GetProperty(model).EnumerateArray())
        {
            var size = entry.GetProperty("size").GetInt32();
            var rgb = ReferenceFixture.Decode(entry);
            var input = new float[size * size * 3];
            for (var i = 0; i < input.Length; i++)
            {
                input[i] = (rgb[i] / 127.5f) - 1f;
            }

            var outputs = session.Run(NamedTensor.FromFloat("input", input, 1, size, size, 3)).ToDictionary(t => t.Name, t => t.AsFloat());
            float[] logits = [.. outputs["Identity"], .. outputs["Identity_1"]];
            var expectedLogits = entry.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(896, logits.Length);
            var image = entry.GetProperty("image").GetString();
            for (var i = 0; i < 896; i++)
            {
                Assert.True(Math.Abs(expectedLogits[i] - logits[i]) <= DetectorTolerance, $"{model} {image} anchor {i}: logit {logits[i]} vs TF.js {expectedLogits[i]}");
            }

            foreach (var top in entry.GetProperty("top").EnumerateArray())
            {
                var anchor = top.GetProperty("anchor").GetInt32();
                var row = anchor < 512 ? outputs["Identity_2"].AsSpan(anchor * 16, 16) : outputs["Identity_3"].AsSpan((anchor - 512) * 16, 16);
                var expected = top.GetProperty("regressors").EnumerateArray().Select(e => e.GetSingle()).ToArray();
                for (var k = 0; k < 16; k++)
                {
                    Assert.True(Math.Abs(expected[k] - row[k]) <= DetectorTolerance, $"{model} {image} anchor {anchor} regressor {k}: {row[k]} vs TF.js {expected[k]}");
                }
            }
        }
    }

    [Fact]
    public void Emotion_SmilingAstronaut_IsHappyAbove09()
    {
        using var session = fixture.Session("emotion");
        var crop = fixture.Document.RootElement.GetProperty("crops").EnumerateArray().First(c => c.GetProperty("image").GetString() == "astronaut.png");
        var grey = ReferenceFixture.Decode(crop);
        var input = grey.Select(g => (float)(((g / 255.0) - 0.5) * 2.0)).ToArray();

        var p = session.Run(NamedTensor.FromFloat("input_1", input, 1, 64, 64, 1))[0].AsFloat();

        Assert.True(p[3] > 0.9f, $"happy = {p[3]}");
    }
}
