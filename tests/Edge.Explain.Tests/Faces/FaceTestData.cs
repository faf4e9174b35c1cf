using System.Diagnostics;
using Edge.Onnx.Models;

namespace Edge.Explain.Tests.Faces;

/// <summary>Real face photographs (./edge setup) decoded with ffmpeg, and the models built by edge model build.</summary>
internal static class FaceTestData
{
    public static string Face(string name)
    {
        var path = Path.Combine(ModelPaths.FacesDirectory, name);
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run ./edge setup");
    }

    /// <summary>A models folder built once per test run from the pinned tarball (fp32 models and manifest).</summary>
    public static string ModelDirectory => LazyModels.Value;

    private static readonly Lazy<string> LazyModels = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"edge-explain-tests-models-{Environment.ProcessId}");
        var tarball = ModelPaths.SourceTarball;
        if (!File.Exists(tarball))
        {
            throw new InvalidOperationException($"{tarball} is missing: run ./edge setup");
        }

        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = dir, SourceTarball = tarball, Models = [ModelCatalog.Emotion, ModelCatalog.BlazeFaceBack, ModelCatalog.BlazeFaceFront] }, CancellationToken.None);
        return dir;
    });

    /// <summary>RGB24 pixels of an image, optionally through an ffmpeg filter that yields <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static byte[] Rgb24(string path, string filter, int width, int height) => Raw(path, filter, "rgb24", width * height * 3);

    /// <summary>8-bit grey pixels of an image through an ffmpeg filter that yields <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static byte[] Grey(string path, string filter, int width, int height) => Raw(path, filter, "gray", width * height);

    /// <summary>tests/Edge.Onnx.Tests/Fixtures/tfjs-reference.json: the 39 real face crops ("crops": image, ffmpeg filter) and more.</summary>
    public static string ReferenceFixturePath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "Edge.Onnx.Tests", "Fixtures", "tfjs-reference.json");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException("tfjs-reference.json not found above " + AppContext.BaseDirectory);
    }

    private static byte[] Raw(string path, string filter, string pixelFormat, int length)
    {
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-nostdin", "-i", path, "-vf", filter, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixelFormat, "-" })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        using var ms = new MemoryStream();
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err.Result);
        Assert.Equal(length, (int)ms.Length);
        return ms.ToArray();
    }
}
