using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Edge.Onnx.Runtime;

/// <summary>
/// The process-wide ONNX Runtime: the loaded library, its API table and the one <c>OrtEnv</c>.
/// ORT allows one environment per process (a second CreateEnv returns the first), so this type owns it for the
/// life of the process and <see cref="OrtEnvironment"/> instances share it.
/// </summary>
internal static unsafe class OrtNative
{
    private static readonly Lock Gate = new();
    private static OrtApi? _api;
    private static OrtEnvHandle? _env;
    private static OrtMemoryInfoHandle? _cpuMemoryInfo;

    public static OrtApi Api => _api ?? throw new InvalidOperationException("ONNX Runtime is not loaded; create an OrtEnvironment first.");

    public static OrtEnvHandle Env => _env ?? throw new InvalidOperationException("ONNX Runtime is not loaded; create an OrtEnvironment first.");

    /// <summary>CPU memory description used for every tensor over managed or native memory we own.</summary>
    public static OrtMemoryInfoHandle CpuMemoryInfo => _cpuMemoryInfo ?? throw new InvalidOperationException("ONNX Runtime is not loaded.");

    public static nint LibraryHandle { get; private set; }

    public static string LibraryPath { get; private set; } = string.Empty;

    public static string Version { get; private set; } = string.Empty;

    /// <summary>Loads the library (once per process) and creates the environment. Returns true when this call loaded it.</summary>
    public static bool EnsureLoaded(string? configuredPath, LogLevel logLevel)
    {
        var candidates = OrtLibraryLocator.Candidates(configuredPath);
        OrtLibraryLocator.ThrowIfConfiguredPathMissing(configuredPath);
        lock (Gate)
        {
            if (_api is not null)
            {
                if (configuredPath is not null && OrtLibraryLocator.IsPath(configuredPath) && !OrtLibraryLocator.SameFile(configuredPath, LibraryPath))
                {
                    throw new InvalidOperationException(
                        $"ONNX Runtime is already loaded from {LibraryPath}; a process can use one library, not also {configuredPath}.");
                }

                return false;
            }

            var (handle, path) = OrtLibraryLocator.Load(candidates);
            try
            {
                if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var getApiBaseExport))
                {
                    throw new DllNotFoundException($"{path} is not ONNX Runtime: it does not export OrtGetApiBase.");
                }

                var apiBase = ((delegate* unmanaged[Cdecl]<nint*>)getApiBaseExport)();
                var getApi = (delegate* unmanaged[Cdecl]<uint, nint*>)apiBase[0];
                var getVersion = (delegate* unmanaged[Cdecl]<byte*>)apiBase[1];
                var version = Marshal.PtrToStringUTF8((nint)getVersion()) ?? "?";
                var table = getApi(OrtApi.ApiVersion);
                if (table is null)
                {
                    throw new NotSupportedException(
                        $"ONNX Runtime {version} at {path} does not provide C API version {OrtApi.ApiVersion}; Edge needs ONNX Runtime 1.{OrtApi.ApiVersion} or later (run ./edge setup).");
                }

                var api = new OrtApi(table);
                nint env;
                var logId = "edge"u8;
                fixed (byte* id = logId)
                {
                    api.Check(api.CreateEnvWithCustomLogger(&OrtLogRouter.OnLog, 0, OrtLogRouter.ToOrtLevel(logLevel), id, &env));
                }

                _api = api;
                _env = new OrtEnvHandle(env);
                nint memoryInfo;
                api.Check(api.CreateCpuMemoryInfo(1 /* OrtArenaAllocator */, 0 /* OrtMemTypeDefault */, &memoryInfo));
                _cpuMemoryInfo = new OrtMemoryInfoHandle(memoryInfo);
                LibraryHandle = handle;
                LibraryPath = path;
                Version = version;
                return true;
            }
            catch
            {
                if (_api is null)
                {
                    NativeLibrary.Free(handle);
                }

                throw;
            }
        }
    }

    /// <summary>Reads a NUL-terminated UTF-8 string owned by ORT.</summary>
    public static string Utf8(byte* p) => p is null ? string.Empty : Marshal.PtrToStringUTF8((nint)p) ?? string.Empty;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint DefaultAllocator()
    {
        nint allocator;
        Api.Check(Api.GetAllocatorWithDefaultOptions(&allocator));
        return allocator;
    }
}

/// <summary>Routes ORT's own log lines to the loggers of the live environments; never lets an exception reach native code.</summary>
internal static unsafe class OrtLogRouter
{
    private static readonly Lock Gate = new();
    private static ILogger[] _loggers = [];

    public static void Add(ILogger logger)
    {
        lock (Gate)
        {
            _loggers = [.. _loggers, logger];
        }
    }

    public static void Remove(ILogger logger)
    {
        lock (Gate)
        {
            var index = Array.IndexOf(_loggers, logger);
            if (index >= 0)
            {
                _loggers = [.. _loggers[..index], .. _loggers[(index + 1)..]];
            }
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static void OnLog(nint param, int severity, byte* category, byte* logId, byte* codeLocation, byte* message)
    {
        try
        {
            var loggers = Volatile.Read(ref _loggers);
            if (loggers.Length == 0)
            {
                return;
            }

            var level = ToLogLevel(severity);
            foreach (var logger in loggers)
            {
                if (logger.IsEnabled(level))
                {
                    Log.OrtMessage(logger, level, OrtNative.Utf8(category), OrtNative.Utf8(message), OrtNative.Utf8(codeLocation));
                }
            }
        }
#pragma warning disable CA1031 // A callback from native code must never throw into native code.
        catch (Exception)
#pragma warning restore CA1031
        {
            // Nothing sensible to do: the logger itself failed.
        }
    }

    public static LogLevel ToLogLevel(int ortSeverity) => ortSeverity switch
    {
        0 => LogLevel.Trace,
        1 => LogLevel.Information,
        2 => LogLevel.Warning,
        3 => LogLevel.Error,
        _ => LogLevel.Critical,
    };

    public static int ToOrtLevel(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => 0,
        LogLevel.Information => 1,
        LogLevel.Warning => 2,
        LogLevel.Error => 3,
        _ => 4,
    };
}
