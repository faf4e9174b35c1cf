using Edge.Explain;
using Edge.Explain.Faces;
using Edge.Host.Commands;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;

namespace Edge.Host.Tests;

/// <summary>The smiling astronaut (./edge setup's faces) decoded and analysed with the fp32 models: one real face for tests.</summary>
internal sealed class RealFace : IDisposable
{
    private RealFace(FfmpegImage.Decoded image, FaceAnalyzerOptions options, OrtEnvironment environment, FaceAnalyzer analyzer, FaceResult face) =>
        (Image, Options, Environment, Analyzer, Face) = (image, options, environment, analyzer, face);

    public FfmpegImage.Decoded Image { get; }

    public FaceAnalyzerOptions Options { get; }

    public OrtEnvironment Environment { get; }

    public FaceAnalyzer Analyzer { get; }

    /// <summary>The one face found (the analyzer's own result object).</summary>
    public FaceResult Face { get; }

    public static async Task<RealFace> AstronautAsync()
    {
        var image = await FfmpegImage.DecodeAsync(Path.Combine(ModelPaths.FacesDirectory, "astronaut.png"), CancellationToken.None);
        var options = new FaceAnalyzerOptions { Precision = ScoringPrecision.Fp32 };
        Assert.True(File.Exists(options.ResolvedScorerPath), "run ./edge setup");
        var environment = OrtEnvironment.Create();
        var analyzer = new FaceAnalyzer(options, environment);
        var faces = new List<FaceResult>();
        Assert.Equal(1, analyzer.Analyze(image.Rgb24, image.Width, image.Height, faces));
        return new RealFace(image, options, environment, analyzer, faces[0]);
    }

    public void Dispose()
    {
        Analyzer.Dispose();
        Environment.Dispose();
    }
}
