using System.Text.Json;
using Edge.Host.Tests.Models;
using Edge.Onnx.Models;
using Edge.Testing;

namespace Edge.Host.Tests.Commands;

/// <summary>`edge score` as a user runs it: the built edge.dll in a child process, real photos, real models.</summary>
[Collection(BuiltModelsCollection.Name)]
public sealed class ScoreCommandTests(BuiltModelsFixture models)
{
    private static string Face(string name) => Path.Combine(ModelPaths.FacesDirectory, name);

    private Task<(int Code, string Stdout, string Stderr)> EdgeAsync(params string[] args) => EdgeProcess.RunAsync(models.Directory, args);

    [Fact]
    public async Task Score_JsonWithOneUnreadableFile_ScoresTheOthersAndExits2()
    {
        var missing = Path.Combine(Path.GetTempPath(), "edge-no-such-image.png");

        var (code, stdout, stderr) = await EdgeAsync("score", "--json", Face("astronaut.png"), missing, Face("grace_hopper.jpg"));

        Assert.Equal(2, code);
        Assert.DoesNotContain("scoring with fp32", stderr, StringComparison.Ordinal);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, lines.Count);
        var astronaut = lines[0];
        Assert.Equal(512, astronaut.GetProperty("width").GetInt32());
        var face = Assert.Single(astronaut.GetProperty("faces").EnumerateArray());
        Assert.Equal(4, face.GetProperty("box").GetArrayLength());
        Assert.InRange(face.GetProperty("detector").GetSingle(), 0.5f, 1f);
        var expressions = face.GetProperty("expressions");
        Assert.Equal(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], expressions.EnumerateObject().Select(p => p.Name));
        Assert.True(expressions.GetProperty("happy").GetSingle() > 0.9f, stdout);
        Assert.Equal(missing, lines[1].GetProperty("image").GetString());
        Assert.True(lines[1].TryGetProperty("error", out _));
        Assert.Equal(600, lines[2].GetProperty("height").GetInt32());
    }

    [Fact]
    public async Task Score_Fp32TableOnFolder_PrintsOneBlockPerImage()
    {
        using var temp = new TempFolder("edge-score-folder-");
        var folder = temp.Path;
        File.Copy(Face("astronaut.png"), Path.Combine(folder, "a.png"));
        File.Copy(Face("grace_hopper.jpg"), Path.Combine(folder, "b.jpg"));
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not an image");

        var (code, stdout, _) = await EdgeAsync("score", "--precision", "fp32", folder);

        Assert.Equal(0, code);
        Assert.Contains("a.png  512x512  1 face  (emotion-fp32@3.0.4)", stdout, StringComparison.Ordinal);
        Assert.Contains("b.jpg  512x600  1 face", stdout, StringComparison.Ordinal);
        Assert.Contains("happy", stdout.Split('\n').First(l => l.TrimStart().StartsWith("1 ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("notes.txt", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Score_FolderWithoutImages_Exits2SayingSo()
    {
        using var temp = new TempFolder("edge-score-empty-");
        var folder = temp.Path;
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not an image");

        var (code, stdout, stderr) = await EdgeAsync("score", folder);

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Equal($"{folder}: error: a folder with no images in it", stderr.Trim());
    }

    [Fact]
    public async Task Score_BadPrecision_Exits2WithMessage()
    {
        var (code, _, stderr) = await EdgeAsync("score", "--precision", "int4", Face("astronaut.png"));

        Assert.Equal(2, code);
        Assert.Contains("--precision must be int8 or fp32", stderr, StringComparison.Ordinal);
    }
}
