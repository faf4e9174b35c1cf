using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Runtime;

public sealed class OrtErrorTests : IDisposable
{
    private readonly OrtEnvironment _env = OrtEnvironment.Create();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void CreateSession_CorruptBytes_ThrowsOrtExceptionWithOrtMessage()
    {
        var e = Assert.Throws<OrtException>(() => _env.CreateSession(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x3A, 0x99, 0x01 }, SessionSettings.Default));
        Assert.NotEqual(OrtErrorCode.Ok, e.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(e.OrtMessage));
        Assert.Contains(e.OrtMessage, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSession_TruncatedModel_ThrowsOrtException()
    {
        var bytes = Models.Conv();
        var e = Assert.Throws<OrtException>(() => _env.CreateSession(bytes[..(bytes.Length / 2)], SessionSettings.Default));
        Assert.False(string.IsNullOrWhiteSpace(e.OrtMessage));
    }

    [Fact]
    public void CreateSession_CorruptFile_ThrowsOrtException()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-corrupt-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllText(path, "this is not a model");
            Assert.Throws<OrtException>(() => _env.CreateSession(path, SessionSettings.Default));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CreateSession_GraphWithDanglingInput_ThrowsOrtException()
    {
        var b = new OnnxGraphBuilder();
        b.AddInput("x", TensorElementType.Float, 2);
        b.AddNode("Add", ["x", "missing"], ["y"]);
        b.AddOutput("y", TensorElementType.Float, 2);
        var e = Assert.Throws<OrtException>(() => _env.CreateSession(b.ToBytes(), SessionSettings.Default));
        Assert.Contains("missing", e.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateSession_EmptyBytes_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => _env.CreateSession([], SessionSettings.Default));
    }

    [Fact]
    public void CreateSession_MissingFile_ThrowsFileNotFoundNamingPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-missing-{Guid.NewGuid():N}.onnx");
        var e = Assert.Throws<FileNotFoundException>(() => _env.CreateSession(path, SessionSettings.Default));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_MissingLibraryPath_ThrowsDllNotFoundNamingPath()
    {
        const string path = "/nonexistent/edge/libonnxruntime.so.1";
        var e = Assert.Throws<DllNotFoundException>(() => OrtEnvironment.Create(new OrtEnvironmentOptions { LibraryPath = path }));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("./edge setup", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_SameLibraryPathAgain_SharesTheLoadedLibrary()
    {
        using var again = OrtEnvironment.Create(new OrtEnvironmentOptions { LibraryPath = _env.LibraryPath });
        Assert.Equal(_env.LibraryPath, again.LibraryPath);
        Assert.Equal("1.30.0", again.Version);
    }

    [Fact]
    public void Candidates_ConfiguredPath_IsTheOnlyCandidate()
    {
        Assert.Equal(["/opt/ort/libonnxruntime.so.1"], OrtLibraryLocator.Candidates("/opt/ort/libonnxruntime.so.1"));
    }

    [Fact]
    public void Candidates_NothingConfigured_EndsWithCacheThenSystemNames()
    {
        var candidates = OrtLibraryLocator.Candidates(null);
        var cached = Path.Combine(OrtLibraryLocator.CacheDirectory(), "onnxruntime", "1.30.0", "libonnxruntime.so.1");
        Assert.Contains(cached, candidates);
        Assert.Equal("libonnxruntime.so", candidates[^1]);
        Assert.True(candidates.ToList().IndexOf(cached) < candidates.ToList().IndexOf("libonnxruntime.so.1"));
    }

    [Fact]
    public void Run_WrongInputShape_ThrowsOrtExceptionWithOrtMessage()
    {
        using var session = _env.CreateSession(Models.Conv(), SessionSettings.Default);
        var e = Assert.Throws<OrtException>(() => session.Run(NamedTensor.FromFloat("x", new float[16], 1, 1, 4, 4)));
        Assert.Equal(OrtErrorCode.InvalidArgument, e.ErrorCode);
        Assert.Contains("dimensions", e.OrtMessage, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Run_WrongInputName_ThrowsOrtExceptionNamingIt()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var e = Assert.Throws<OrtException>(() => session.Run(NamedTensor.FromFloat("nope", new float[4], 1, 4)));
        Assert.Contains("nope", e.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WrongElementType_ThrowsOrtException()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var e = Assert.Throws<OrtException>(() => session.Run(NamedTensor.FromInt64("x", new long[4], 1, 4)));
        Assert.Contains("type", e.OrtMessage, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Run_UnknownOutputName_ThrowsOrtException()
    {
        using var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        var e = Assert.Throws<OrtException>(() => session.Run(["nothing"], NamedTensor.FromFloat("x", new float[4], 1, 4)));
        Assert.Contains("nothing", e.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFloat_ShapeDisagreesWithData_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => NamedTensor.FromFloat("x", new float[3], 2, 2));
    }

    [Fact]
    public void AsFloat_OnInt64Tensor_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => NamedTensor.FromInt64("x", [1], 1).AsFloat());
    }

    [Fact]
    public void Dispose_SessionAndEnvironmentTwice_IsSafe()
    {
        var env = OrtEnvironment.Create();
        var session = env.CreateSession(Models.Relu(), SessionSettings.Default);
        session.Dispose();
        session.Dispose();
        env.Dispose();
        env.Dispose();
        Assert.Throws<ObjectDisposedException>(() => env.CreateSession(Models.Relu(), SessionSettings.Default));
    }

    [Fact]
    public void Run_AfterSessionDisposed_ThrowsObjectDisposed()
    {
        var session = _env.CreateSession(Models.Relu(), SessionSettings.Default);
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Run(NamedTensor.FromFloat("x", new float[4], 1, 4)));
    }

    [Fact]
    public void CreateSession_NegativeThreads_ThrowsBeforeTouchingOrt()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _env.CreateSession(Models.Relu(), new SessionSettings { IntraOpThreads = -1 }));
    }
}
