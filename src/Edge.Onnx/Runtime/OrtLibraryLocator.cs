using System.Runtime.InteropServices;

namespace Edge.Onnx.Runtime;

/// <summary>
/// Finds <c>libonnxruntime</c>: the configured path, else <c>EDGE_ORT_LIBRARY</c>, else the cache that
/// <c>./edge setup</c> fills (<c>$EDGE_CACHE</c> or <c>~/.cache/edge</c>, <c>onnxruntime/1.30.0/</c>), else the
/// system search path. A configured path is used alone: a wrong setting is reported, not papered over.
/// </summary>
public static class OrtLibraryLocator
{
    /// <summary>The ONNX Runtime release Edge is built and tested against.</summary>
    public const string ExpectedVersion = "1.30.0";

    /// <summary>The environment variable that names the library (exported by scripts/common.sh).</summary>
    public const string EnvironmentVariable = "EDGE_ORT_LIBRARY";

    /// <summary>Where to look, in order. Entries without a directory are names for the system search.</summary>
    public static IReadOnlyList<string> Candidates(string? configuredPath)
    {
        if (!string.IsNullOrWhiteSpace(configuredPath))
        {
            return [configuredPath];
        }

        var list = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            list.Add(fromEnv);
        }

        var cached = Path.Combine(CacheDirectory(), "onnxruntime", ExpectedVersion, FileName);
        if (!list.Contains(cached, StringComparer.Ordinal))
        {
            list.Add(cached);
        }

        list.AddRange(SystemNames);
        return list;
    }

    /// <summary>The cache root of <c>./edge setup</c>: <c>$EDGE_CACHE</c>, else <c>$XDG_CACHE_HOME/edge</c>, else <c>~/.cache/edge</c>.</summary>
    public static string CacheDirectory()
    {
        var edgeCache = Environment.GetEnvironmentVariable("EDGE_CACHE");
        if (!string.IsNullOrWhiteSpace(edgeCache))
        {
            return edgeCache;
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrWhiteSpace(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "edge");
    }

    private static string FileName => OperatingSystem.IsWindows() ? "onnxruntime.dll"
        : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib"
        : "libonnxruntime.so.1";

    private static string[] SystemNames => OperatingSystem.IsWindows() ? ["onnxruntime.dll"]
        : OperatingSystem.IsMacOS() ? ["libonnxruntime.dylib"]
        : ["libonnxruntime.so.1", "libonnxruntime.so"];

    internal static void ThrowIfConfiguredPathMissing(string? configuredPath)
    {
        if (!string.IsNullOrWhiteSpace(configuredPath) && !IsName(configuredPath) && !File.Exists(configuredPath))
        {
            throw new DllNotFoundException(
                $"ONNX Runtime library not found at the configured path {configuredPath} (no such file). "
                + $"Run ./edge setup, or correct Onnx:LibraryPath / {EnvironmentVariable}.");
        }
    }

    internal static bool IsPath(string candidate) => !IsName(candidate);

    private static bool IsName(string candidate) =>
        !candidate.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) && !candidate.Contains('/', StringComparison.Ordinal);

    internal static (nint Handle, string Path) Load(IReadOnlyList<string> candidates)
    {
        var tried = new List<string>();
        foreach (var candidate in candidates)
        {
            var isName = IsName(candidate);
            if (!isName && !File.Exists(candidate))
            {
                tried.Add($"{candidate} (no such file)");
                continue;
            }

            try
            {
                var handle = NativeLibrary.Load(candidate);
                return (handle, isName ? candidate : Path.GetFullPath(candidate));
            }
            catch (DllNotFoundException e)
            {
                tried.Add($"{candidate} ({e.Message.Split('\n')[0]})");
            }
            catch (BadImageFormatException e)
            {
                tried.Add($"{candidate} (not a loadable library: {e.Message})");
            }
        }

        throw new DllNotFoundException(
            "ONNX Runtime library not found; tried: " + string.Join("; ", tried)
            + $". Run ./edge setup, or set {EnvironmentVariable} or Onnx:LibraryPath to libonnxruntime {ExpectedVersion}.");
    }

    internal static bool SameFile(string a, string b)
    {
        static string Resolve(string p)
        {
            if (!File.Exists(p))
            {
                return p;
            }

            var info = new FileInfo(p);
            return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
        }

        return string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);
    }
}
