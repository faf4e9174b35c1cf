using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Edge.Onnx.Runtime;

/// <summary>Appends execution providers by name, in order, logging and skipping each one that fails. CPU is always last.</summary>
internal static unsafe class ExecutionProviders
{
    public const string Cpu = "CPU";
    public const string Cuda = "CUDA";
    public const string OpenVino = "OpenVINO";
    public const string DirectMl = "DML";

    /// <summary>The Windows-only export DirectML builds of ORT have; its absence means no DirectML here.</summary>
    internal const string DmlExport = "OrtSessionOptionsAppendExecutionProvider_DML";

    /// <summary>Canonical short name: "CUDAExecutionProvider" → "CUDA", "directml" → "DML", unknown names unchanged.</summary>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var n = name.Trim();
        if (n.EndsWith("ExecutionProvider", StringComparison.OrdinalIgnoreCase))
        {
            n = n[..^"ExecutionProvider".Length];
        }

        return n.ToUpperInvariant() switch
        {
            "CPU" => Cpu,
            "CUDA" => Cuda,
            "OPENVINO" => OpenVino,
            "DML" or "DIRECTML" => DirectMl,
            _ => n,
        };
    }

    /// <summary>The providers that would be tried for this list: normalised, de-duplicated, cut at CPU, CPU last.</summary>
    public static IReadOnlyList<string> Plan(IReadOnlyList<string> configured, out IReadOnlyList<string> ignoredAfterCpu)
    {
        var plan = new List<string>();
        var ignored = new List<string>();
        var sawCpu = false;
        foreach (var raw in configured)
        {
            if (string.IsNullOrWhiteSpace(raw))
            {
                continue;
            }

            var name = Normalize(raw);
            if (sawCpu)
            {
                ignored.Add(name);
                continue;
            }

            if (name == Cpu)
            {
                sawCpu = true;
                continue;
            }

            if (!plan.Contains(name, StringComparer.Ordinal))
            {
                plan.Add(name);
            }
        }

        plan.Add(Cpu);
        ignoredAfterCpu = ignored;
        return plan;
    }

    /// <summary>Appends each provider; returns those that were appended, CPU last.</summary>
    public static IReadOnlyList<string> Append(OrtSessionOptionsHandle options, SessionSettings settings, ILogger logger)
    {
        var plan = Plan(settings.Providers, out var ignored);
        if (ignored.Count > 0)
        {
            Log.ProvidersAfterCpuIgnored(logger, string.Join(", ", ignored));
        }

        var active = new List<string>();
        foreach (var name in plan)
        {
            if (name == Cpu)
            {
                // ORT adds its CPU provider itself, after every appended one.
                active.Add(Cpu);
                continue;
            }

            var providerOptions = OptionsFor(settings, name);
            try
            {
                var error = name switch
                {
                    Cuda => AppendCuda(options, providerOptions),
                    OpenVino => WithStrings(providerOptions, (keys, values, n) =>
                        OrtNative.Api.AppendExecutionProviderOpenVinoV2(options.DangerousGetHandle(), keys, values, n)),
                    DirectMl => AppendDirectMl(options, providerOptions, logger),
                    _ => AppendGeneric(options, name, providerOptions),
                };
                if (error is null)
                {
                    active.Add(name);
                    Log.ProviderAppended(logger, name);
                }
                else if (!ReferenceEquals(error, Unavailable))
                {
                    Log.ProviderFailed(logger, name, error.OrtMessage);
                }
            }
            catch (DllNotFoundException e)
            {
                Log.ProviderUnavailable(logger, name, e.Message);
            }
            catch (EntryPointNotFoundException e)
            {
                Log.ProviderUnavailable(logger, name, e.Message);
            }
        }

        return active;
    }

    private static IReadOnlyDictionary<string, string> OptionsFor(SessionSettings settings, string name)
    {
        foreach (var (key, value) in settings.ProviderOptions)
        {
            if (Normalize(key) == name)
            {
                return value;
            }
        }

        return new Dictionary<string, string>(StringComparer.Ordinal);
    }

    private static OrtException? AppendCuda(OrtSessionOptionsHandle options, IReadOnlyDictionary<string, string> providerOptions)
    {
        var api = OrtNative.Api;
        nint raw;
        var error = api.ToException(api.CreateCudaProviderOptions(&raw));
        if (error is not null)
        {
            return error;
        }

        using var cudaOptions = new OrtCudaProviderOptionsHandle(raw);
        if (providerOptions.Count > 0)
        {
            error = WithStrings(providerOptions, (keys, values, n) =>
                api.UpdateCudaProviderOptions(cudaOptions.DangerousGetHandle(), keys, values, n));
            if (error is not null)
            {
                return error;
            }
        }

        return api.ToException(api.AppendExecutionProviderCudaV2(options.DangerousGetHandle(), cudaOptions.DangerousGetHandle()));
    }

    private static OrtException? AppendGeneric(OrtSessionOptionsHandle options, string name, IReadOnlyDictionary<string, string> providerOptions)
    {
        var nameBytes = NullTerminated(name);
        return WithStrings(providerOptions, (keys, values, n) =>
        {
            fixed (byte* p = nameBytes)
            {
                return OrtNative.Api.AppendExecutionProvider(options.DangerousGetHandle(), p, keys, values, n);
            }
        });
    }

    /// <summary>Returned when the provider was already logged as unavailable (no ORT status to report).</summary>
    private static readonly OrtException Unavailable = new(OrtErrorCode.NotImplemented, "unavailable");

    private static OrtException? AppendDirectMl(OrtSessionOptionsHandle options, IReadOnlyDictionary<string, string> providerOptions, ILogger logger)
    {
        if (!NativeLibrary.TryGetExport(OrtNative.LibraryHandle, DmlExport, out var export))
        {
            Log.ProviderUnavailable(logger, DirectMl, $"{OrtNative.LibraryPath} does not export {DmlExport} (DirectML exists only in Windows builds of ORT)");
            return Unavailable;
        }

        var deviceId = 0;
        if (providerOptions.TryGetValue("device_id", out var id) && !int.TryParse(id, System.Globalization.CultureInfo.InvariantCulture, out deviceId))
        {
            return new OrtException(OrtErrorCode.InvalidArgument, $"DML device_id '{id}' is not an integer.");
        }

        return OrtNative.Api.ToException(((delegate* unmanaged[Cdecl]<nint, int, nint>)export)(options.DangerousGetHandle(), deviceId));
    }

    private delegate nint KeyValueCall(byte** keys, byte** values, nuint count);

    /// <summary>Calls <paramref name="call"/> with the options as two NUL-terminated UTF-8 string arrays, in key order.</summary>
    private static OrtException? WithStrings(IReadOnlyDictionary<string, string> entries, KeyValueCall call)
    {
        var sorted = entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToArray();
        var allocated = new List<nint>(sorted.Length * 2);
        try
        {
            var keys = stackalloc byte*[Math.Max(1, sorted.Length)];
            var values = stackalloc byte*[Math.Max(1, sorted.Length)];
            for (var i = 0; i < sorted.Length; i++)
            {
                var k = Marshal.StringToCoTaskMemUTF8(sorted[i].Key);
                allocated.Add(k);
                var v = Marshal.StringToCoTaskMemUTF8(sorted[i].Value);
                allocated.Add(v);
                keys[i] = (byte*)k;
                values[i] = (byte*)v;
            }

            return OrtNative.Api.ToException(call(keys, values, (nuint)sorted.Length));
        }
        finally
        {
            foreach (var p in allocated)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    internal static byte[] NullTerminated(string s)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
        System.Text.Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
