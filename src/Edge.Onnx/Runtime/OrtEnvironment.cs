using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Onnx.Runtime;

/// <summary>Where to find ONNX Runtime and how much of its own logging to pass on.</summary>
public sealed class OrtEnvironmentOptions
{
    /// <summary>Path of libonnxruntime; null to search (EDGE_ORT_LIBRARY, the ./edge setup cache, the system).</summary>
    public string? LibraryPath { get; set; }

    /// <summary>The least severe ORT log line passed to the logger; Warning by default. The first environment of a process sets it.</summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Warning;
}

/// <summary>
/// Entry point to ONNX Runtime: loads the library (once per process), routes ORT's logging to
/// <see cref="ILogger"/>, reports version and providers, and creates sessions.
/// </summary>
public sealed class OrtEnvironment : IDisposable
{
    private readonly ILogger _logger;
    private int _disposed;

    private OrtEnvironment(ILogger logger)
    {
        _logger = logger;
    }

    /// <summary>The ORT release loaded, e.g. "1.30.0".</summary>
    public string Version => OrtNative.Version;

    /// <summary>The file the library was loaded from.</summary>
    public string LibraryPath => OrtNative.LibraryPath;

    /// <summary>ORT's build description (<c>GetBuildInfoString</c>): git branch, commit and build type.</summary>
    public unsafe string BuildInfo => OrtNative.Utf8(OrtNative.Api.GetBuildInfoString());

    /// <summary>Providers compiled into the library (<c>GetAvailableProviders</c>), e.g. CUDAExecutionProvider, CPUExecutionProvider.
    /// A listed provider may still fail to load when its own library or driver is missing.</summary>
    public unsafe IReadOnlyList<string> AvailableProviders
    {
        get
        {
            var api = OrtNative.Api;
            byte** names;
            int count;
            api.Check(api.GetAvailableProviders(&names, &count));
            try
            {
                var result = new string[count];
                for (var i = 0; i < count; i++)
                {
                    result[i] = OrtNative.Utf8(names[i]);
                }

                return result;
            }
            finally
            {
                api.Check(api.ReleaseAvailableProviders(names, count));
            }
        }
    }

    /// <summary>True when this library exports the DirectML entry point (Windows DirectML builds only).</summary>
    public bool HasDirectML => NativeLibrary.TryGetExport(OrtNative.LibraryHandle, ExecutionProviders.DmlExport, out _);

    internal ILogger Logger => _logger;

    /// <summary>
    /// Loads ONNX Runtime (first call in the process) and returns an environment over it.
    /// Throws <see cref="DllNotFoundException"/> naming every path tried when the library cannot be found.
    /// </summary>
    public static OrtEnvironment Create(OrtEnvironmentOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        options ??= new OrtEnvironmentOptions();
        var logger = (ILogger?)loggerFactory?.CreateLogger("Edge.Onnx.Runtime") ?? NullLogger.Instance;
        var loaded = OrtNative.EnsureLoaded(options.LibraryPath, options.LogLevel);
        if (loaded)
        {
            Log.LibraryLoaded(logger, OrtNative.Version, OrtNative.LibraryPath);
        }

        OrtLogRouter.Add(logger);
        return new OrtEnvironment(logger);
    }

    /// <summary>Which providers a session with these settings would try, in order (CPU last). Nothing is loaded.</summary>
    public static IReadOnlyList<string> PlanProviders(IReadOnlyList<string> configured) =>
        ExecutionProviders.Plan(configured, out _);

    /// <summary>Creates a session from model bytes (an ONNX ModelProto).</summary>
    public OrtSession CreateSession(byte[] model, SessionSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Length == 0)
        {
            throw new ArgumentException("The model is empty (0 bytes).", nameof(model));
        }

        ThrowIfDisposed();
        return OrtSession.Create(this, model, null, settings ?? SessionSettings.Default);
    }

    /// <summary>Creates a session from a model file. Throws <see cref="FileNotFoundException"/> naming the path when it is missing.</summary>
    public OrtSession CreateSession(string path, SessionSettings? settings = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ONNX model file not found: {path}", path);
        }

        ThrowIfDisposed();
        return OrtSession.Create(this, null, Path.GetFullPath(path), settings ?? SessionSettings.Default);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // The native environment stays for the process (ORT allows one); this instance only stops listening.
            OrtLogRouter.Remove(_logger);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
