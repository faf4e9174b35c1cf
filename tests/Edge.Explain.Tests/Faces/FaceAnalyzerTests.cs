using Edge.Explain.Faces;
using Edge.Onnx.Runtime;
using Edge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Edge.Explain.Tests.Faces;

public sealed class FaceAnalyzerTests : IDisposable
{
    private readonly OrtEnvironment _environment = OrtEnvironment.Create();

    public void Dispose() => _environment.Dispose();

    private FaceAnalyzer Analyzer(DetectorVariant detector = DetectorVariant.Back) => new(
        new FaceAnalyzerOptions { ModelDirectory = FaceTestData.ModelDirectory, Precision = ScoringPrecision.Fp32, Detector = detector },
        _environment);

    [Theory]
    [InlineData(DetectorVariant.Back)]
    [InlineData(DetectorVariant.Front)]
    public void Analyze_SmilingAstronaut_FindsOneHappyFaceAbove09(DetectorVariant detector)
    {
        using var analyzer = Analyzer(detector);
        var rgb = FaceTestData.Rgb24(FaceTestData.Face("astronaut.png"), "null", 512, 512);
        var faces = new List<FaceResult>();

        var n = analyzer.Analyze(rgb, 512, 512, faces);

        Assert.Equal(1, n);
        var face = Assert.Single(faces);
        Assert.True(face.Scores[Expressions.IndexOf("happy")] > 0.9f, $"happy = {face.Scores[3]}");
        Assert.Equal(1f, face.Scores.Sum(), 3);
        // The helmet-free face of the astronaut sits around x 170-280, y 70-190 (the TF.js reference crop is 161..289 x 63..191).
        Assert.InRange((face.Box.X1 + face.Box.X2) / 2, 205f, 245f);
        Assert.InRange((face.Box.Y1 + face.Box.Y2) / 2, 105f, 150f);
        Assert.InRange(face.Box.Width, 80f, 140f);
        Assert.True(face.DetectorScore >= 0.5f);

        // The mouth keypoint: centred under the nose, in the lower part of the box; in the crop between nose and chin.
        Assert.InRange(face.Mouth.X, face.Box.X1 + (0.35f * face.Box.Width), face.Box.X2 - (0.35f * face.Box.Width));
        Assert.InRange(face.Mouth.Y, face.Box.Y1 + (0.55f * face.Box.Height), face.Box.Y2 - (0.1f * face.Box.Height));
        var inCrop = FaceCrop.ToCrop(face.Mouth, face.Box, 1.2f);
        Assert.InRange(inCrop.X, 0.4f * FaceCrop.Size, 0.6f * FaceCrop.Size);
        Assert.InRange(inCrop.Y, 0.55f * FaceCrop.Size, 0.75f * FaceCrop.Size);
    }

    [Fact]
    public void Analyze_GraceHopper_IsNotHappyAndBoxIsInSourcePixels()
    {
        using var analyzer = Analyzer();
        var rgb = FaceTestData.Rgb24(FaceTestData.Face("grace_hopper.jpg"), "null", 512, 600);
        var faces = new List<FaceResult>();

        Assert.Equal(1, analyzer.Analyze(rgb, 512, 600, faces));

        var face = faces[0];
        Assert.True(face.Scores[Expressions.IndexOf("happy")] < 0.2f, $"happy = {face.Scores[3]}");
        Assert.InRange(face.Box.X1, 0f, 512f);
        Assert.InRange(face.Box.Y2, 0f, 600f);
        Assert.True(face.Box.Y1 > 60f, "the face is well below the top of the portrait");
    }

    [Fact]
    public void Analyze_LetterboxedFrameWithOneFace_AllocatesNothingPerFrameAfterWarmUp()
    {
        using var analyzer = Analyzer();
        var rgb = FaceTestData.Rgb24(FaceTestData.Face("astronaut.png"), "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2", 640, 480);
        var faces = new List<FaceResult>();
        for (var i = 0; i < 5; i++)
        {
            analyzer.Analyze(rgb, 640, 480, faces);
        }

        var first = faces[0];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            analyzer.Analyze(rgb, 640, 480, faces);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Same(first, faces[0]);
    }

    [Fact]
    public void Analyze_BlackFrame_FindsNoFaceAndClearsResults()
    {
        using var analyzer = Analyzer();
        var faces = new List<FaceResult> { new() };

        var n = analyzer.Analyze(new byte[320 * 240 * 3], 320, 240, faces);

        Assert.Equal(0, n);
        Assert.Empty(faces);
    }

    [Fact]
    public void Constructor_MissingInt8Model_ThrowsNamingKeyAndPath()
    {
        using var temp = new TempFolder("edge-empty-models-");
        var dir = temp.Path;
        var e = Assert.Throws<ArgumentException>(() => new FaceAnalyzer(new FaceAnalyzerOptions { ModelDirectory = dir, Precision = ScoringPrecision.Int8 }, _environment));

        Assert.Contains("Faces:ModelDirectory", e.Message, StringComparison.Ordinal);
        Assert.Contains("emotion.int8.onnx", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OutOfRangeValues_NameEachKey()
    {
        var result = new FaceAnalyzerOptionsValidator().Validate(null, new FaceAnalyzerOptions
        {
            ModelDirectory = FaceTestData.ModelDirectory,
            MinDetectorScore = 1.5f,
            NmsIouThreshold = -0.1f,
            MaxFaces = 0,
            CropMargin = 0.5f,
        });

        Assert.True(result.Failed);
        foreach (var key in new[] { "Faces:MinDetectorScore", "Faces:NmsIouThreshold", "Faces:MaxFaces", "Faces:CropMargin" })
        {
            Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AddEdgeFaces_ConfiguredFromSection_ResolvesWorkingAnalyzer()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Faces:ModelDirectory"] = FaceTestData.ModelDirectory,
            ["Faces:Precision"] = "Fp32",
            ["Faces:Detector"] = "Front",
        }).Build();
        using var provider = new ServiceCollection().AddSingleton(_environment).AddEdgeFaces(config).BuildServiceProvider();

        var analyzer = provider.GetRequiredService<FaceAnalyzer>();

        Assert.Equal("emotion-fp32@3.0.4", analyzer.ModelId);
        Assert.Equal(DetectorVariant.Front, analyzer.Options.Detector);
        Assert.Equal(64, analyzer.ModelSha256.Length);
    }

    [Fact]
    public void AddEdgeFaces_BadSection_FailsValidationNamingKey()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Faces:ModelDirectory"] = FaceTestData.ModelDirectory,
            ["Faces:Precision"] = "Fp32",
            ["Faces:MaxFaces"] = "500",
        }).Build();
        using var provider = new ServiceCollection().AddSingleton(_environment).AddEdgeFaces(config).BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<FaceAnalyzerOptions>>().Value);

        Assert.Contains("Faces:MaxFaces", e.Message, StringComparison.Ordinal);
    }
}
