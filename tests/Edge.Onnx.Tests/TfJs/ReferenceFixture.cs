using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.TfJs;

/// <summary>
/// The upstream TF.js outputs recorded by tools/reference/make-fixtures.js, the models converted from the
/// same source tarball, and an ONNX Runtime environment: shared by the reference tests.
/// </summary>
public sealed class ReferenceFixture : IDisposable
{
    public ReferenceFixture()
    {
        ModelDirectory = Directory.CreateTempSubdirectory("edge-ref-models-").FullName;
        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = ModelDirectory, SourceTarball = TestPaths.SourceTarball }, CancellationToken.None);
        Document = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture("tfjs-reference.json")));
        Environment = OrtEnvironment.Create();
    }

    public string ModelDirectory { get; }

    public JsonDocument Document { get; }

    public OrtEnvironment Environment { get; }

    public OrtSession Session(string model) => Environment.CreateSession(Path.Combine(ModelDirectory, $"{model}.fp32.onnx"));

    /// <summary>Decodes an image exactly as the reference script did and checks the bytes are the ones TF.js saw.</summary>
    public static byte[] Decode(JsonElement entry)
    {
        var image = entry.GetProperty("image").GetString()!;
        var psi = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-v", "error", "-nostdin", "-i", Path.Combine(ModelPaths.FacesDirectory, image), "-vf", entry.GetProperty("filter").GetString()!, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", entry.GetProperty("pixFmt").GetString()!, "-" })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        using var ms = new MemoryStream();
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffmpeg failed on {image}: {err.Result}");
        var bytes = ms.ToArray();
        Assert.Equal(entry.GetProperty("inputSha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        return bytes;
    }

    public void Dispose()
    {
        Environment.Dispose();
        Document.Dispose();
        Directory.Delete(ModelDirectory, recursive: true);
    }
}
