using System.Text.Json;
using Edge.Host.Tests.Models;
using Edge.Onnx.Models;
using Edge.Testing;

namespace Edge.Host.Tests.Commands;

/// <summary>`edge explain` and `edge explain verify` as a user runs them: the built edge.dll, real photos, real models.</summary>
[Collection(BuiltModelsCollection.Name)]
public sealed class ExplainCommandTests(BuiltModelsFixture models)
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static string Face(string name) => Path.Combine(ModelPaths.FacesDirectory, name);

    private Task<(int Code, string Stdout, string Stderr)> EdgeAsync(params string[] args) => EdgeProcess.RunAsync(models.Directory, args);

    [Fact]
    public async Task Explain_AstronautJson_WritesHeatmapAndOverlayAndTheIssuesFields()
    {
        using var temp = new TempFolder("edge-explain-");
        var output = temp.Path;
        var (code, stdout, stderr) = await EdgeAsync("explain", Face("astronaut.png"), "--out", output, "--class", "happy", "--json");

        Assert.True(code == 0, stderr);
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith('{'));
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal(["image", "face", "class", "score", "relevance_sum", "conservation_error", "bytes_encoded", "mouth_share", "mouth_is_densest"],
            json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Face("astronaut.png"), json.GetProperty("image").GetString());
        Assert.Equal(0, json.GetProperty("face").GetInt32());
        Assert.Equal("happy", json.GetProperty("class").GetString());
        Assert.True(json.GetProperty("score").GetSingle() > 0.9f, line);
        Assert.True(json.GetProperty("relevance_sum").GetSingle() > 0f, line);
        Assert.InRange(json.GetProperty("conservation_error").GetSingle(), 0f, 0.5f);
        Assert.InRange(json.GetProperty("bytes_encoded").GetInt32(), 16, 1024);
        Assert.True(json.GetProperty("mouth_share").GetDouble() > 0.3, line);
        Assert.True(json.GetProperty("mouth_is_densest").GetBoolean(), line);
        foreach (var file in new[] { "astronaut_0_heatmap.png", "astronaut_0_overlay.png" })
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(output, file));
            Assert.Equal(PngSignature, bytes.Take(8));
        }

        Assert.Equal(2, Directory.GetFiles(output).Length);
    }

    [Theory]
    [InlineData("--rule", "zminus", "--rule must be zplus, gamma or epsilon")]
    [InlineData("--add", "half", "--add must be absolute or signed")]
    [InlineData("--projection", "flat", "--projection must be direct or guided")]
    [InlineData("--mode", "fast", "--mode must be reduced or full")]
    [InlineData("--patch", "0", "--patch must be a whole number from 1 to 32 (was '0')")]
    [InlineData("--steps", "-3", "--steps must be a whole number above 0 (was '-3')")]
    public async Task Explain_BadOption_Exits2NamingIt(string option, string value, string message)
    {
        var (code, _, stderr) = await EdgeAsync("explain", Face("astronaut.png"), "--out", Path.GetTempPath(), option, value);

        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_OutIsAFile_Exits1NamingIt()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (code, stdout, stderr) = await EdgeAsync("explain", Face("astronaut.png"), "--out", file);

            Assert.Equal(1, code);
            Assert.Contains($"edge explain: cannot create --out {file}", stderr, StringComparison.Ordinal);
            Assert.Empty(stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Explain_ProjectionGuided_ExplainsWithTheOtherProjection()
    {
        using var temp = new TempFolder("edge-explain-");
        var output = temp.Path;
        async Task<double> MouthShare(params string[] extra)
        {
            var (code, stdout, stderr) = await EdgeAsync(["explain", Face("astronaut.png"), "--out", output, "--class", "happy", "--json", .. extra]);
            Assert.True(code == 0, stderr);
            return JsonDocument.Parse(stdout.Split('\n').First(l => l.StartsWith('{'))).RootElement.GetProperty("mouth_share").GetDouble();
        }

        var direct = await MouthShare();
        var guided = await MouthShare("--projection", "guided");
        Assert.Equal(direct, await MouthShare("--projection", "direct"));
        Assert.NotEqual(direct, guided);
        Assert.True(guided > 0.3, $"guided mouth share {guided}");
    }

    [Fact]
    public async Task ExplainVerify_TwoFaces_PrintsTheAopcTableAndTheMouthLines()
    {
        using var temp = new TempFolder("edge-explain-verify-");
        var folder = temp.Path;
        File.Copy(Face("astronaut.png"), Path.Combine(folder, "a.png"));
        File.Copy(Face("grace_hopper.jpg"), Path.Combine(folder, "b.jpg"));

        var (code, stdout, stderr) = await EdgeAsync("explain", "verify", folder, "--steps", "4");

        Assert.True(code is 0 or 3, $"exit {code}: {stderr}");
        Assert.Contains("faces: 2 (smiling, happy top with p > 0.5: 1)", stdout, StringComparison.Ordinal);
        foreach (var row in new[] { "LRP (reduced)", "gradient x input", "random (5 orders)", "mouth region", "contains the mouth keypoint on: LRP 1/1", "reduced vs full LRP (same rules, top class): Pearson r mean 0.9" })
        {
            Assert.Contains(row, stdout, StringComparison.Ordinal);
        }

        Assert.Contains(code == 0 ? "LRP beats random and gradient x input" : "LRP does NOT beat both", stdout, StringComparison.Ordinal);
    }
}
