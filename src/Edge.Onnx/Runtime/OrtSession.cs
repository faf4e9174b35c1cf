using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Edge.Onnx.Runtime;

/// <summary>
/// An ORT inference session. <see cref="Run(NamedTensor[])"/> allocates its results (tools, tests);
/// <see cref="CreateRunner"/> gives a reusable, allocation-free runner for the hot path.
/// Run may be called from several threads at once; a runner may not.
/// </summary>
public sealed unsafe class OrtSession : IDisposable
{
    private readonly OrtSessionHandle _handle;

    private OrtSession(OrtEnvironment environment, OrtSessionHandle handle, IReadOnlyList<string> activeProviders)
    {
        Environment = environment;
        _handle = handle;
        ActiveProviders = activeProviders;
        Inputs = ReadInfos(isInput: true);
        Outputs = ReadInfos(isInput: false);
    }

    public OrtEnvironment Environment { get; }

    public IReadOnlyList<TensorInfo> Inputs { get; }

    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>The providers actually appended, in priority order; CPU is always the last.</summary>
    public IReadOnlyList<string> ActiveProviders { get; }

    internal OrtSessionHandle Handle => _handle;

    internal static OrtSession Create(OrtEnvironment environment, byte[]? model, string? path, SessionSettings settings)
    {
        settings.Validate();
        var api = OrtNative.Api;
        using var options = CreateOptions(settings, environment.Logger, out var active);
        nint session;
        if (model is not null)
        {
            fixed (byte* p = model)
            {
                api.Check(api.CreateSessionFromArray(OrtNative.Env.DangerousGetHandle(), p, (nuint)model.Length, options.DangerousGetHandle(), &session));
            }
        }
        else
        {
            var pathBytes = OrtPath(path!);
            fixed (byte* p = pathBytes)
            {
                api.Check(api.CreateSession(OrtNative.Env.DangerousGetHandle(), p, options.DangerousGetHandle(), &session));
            }
        }

        var handle = new OrtSessionHandle(session);
        try
        {
            var result = new OrtSession(environment, handle, active);
            Log.SessionCreated(
                environment.Logger,
                string.Join("; ", result.Inputs),
                string.Join("; ", result.Outputs),
                string.Join(", ", active));
            return result;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Runs the model and returns every output.</summary>
    public IReadOnlyList<NamedTensor> Run(params NamedTensor[] inputs) => Run(inputs, null, CancellationToken.None);

    /// <summary>Runs the model and returns the named outputs, in the order asked.</summary>
    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<string> outputNames, params NamedTensor[] inputs) =>
        Run(inputs, outputNames, CancellationToken.None);

    /// <summary>
    /// Runs the model; <paramref name="outputNames"/> null means every output. Cancelling the token asks ORT
    /// to stop the run (<c>RunOptionsSetTerminate</c>) and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string>? outputNames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        cancellationToken.ThrowIfCancellationRequested();
        var api = OrtNative.Api;
        var names = outputNames ?? Outputs.Select(o => o.Name).ToArray();
        var pins = new List<GCHandle>(inputs.Count);
        var strings = new List<nint>(inputs.Count + names.Count);
        var inputValues = new OrtValueHandle?[inputs.Count];
        var inputNamePtrs = new nint[inputs.Count];
        var inputValuePtrs = new nint[inputs.Count];
        var outputNamePtrs = new nint[names.Count];
        var outputValuePtrs = new nint[names.Count];
        OrtRunOptionsHandle? runOptions = null;
        var added = false;
        try
        {
            for (var i = 0; i < inputs.Count; i++)
            {
                var input = inputs[i] ?? throw new ArgumentException($"Input {i} is null.", nameof(inputs));
                var pin = GCHandle.Alloc(input.Data, GCHandleType.Pinned);
                pins.Add(pin);
                inputValues[i] = CreateTensor((void*)pin.AddrOfPinnedObject(), input.ByteLength, input.Shape, input.ElementType);
                inputValuePtrs[i] = inputValues[i]!.DangerousGetHandle();
                inputNamePtrs[i] = Marshal.StringToCoTaskMemUTF8(input.Name);
                strings.Add(inputNamePtrs[i]);
            }

            for (var i = 0; i < names.Count; i++)
            {
                outputNamePtrs[i] = Marshal.StringToCoTaskMemUTF8(names[i]);
                strings.Add(outputNamePtrs[i]);
            }

            if (cancellationToken.CanBeCanceled)
            {
                nint ro;
                api.Check(api.CreateRunOptions(&ro));
                runOptions = new OrtRunOptionsHandle(ro);
            }

            _handle.DangerousAddRef(ref added);
            nint status;
            using (cancellationToken.Register(static state => Terminate((OrtRunOptionsHandle)state!), runOptions))
            {
                fixed (nint* inNames = inputNamePtrs, inValues = inputValuePtrs, outNames = outputNamePtrs, outValues = outputValuePtrs)
                {
                    status = api.Run(
                        _handle.DangerousGetHandle(),
                        runOptions?.DangerousGetHandle() ?? 0,
                        inNames,
                        inValues,
                        (nuint)inputs.Count,
                        outNames,
                        (nuint)names.Count,
                        outValues);
                }
            }

            var error = api.ToException(status);
            if (error is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw error;
            }

            var results = new NamedTensor[names.Count];
            for (var i = 0; i < names.Count; i++)
            {
                results[i] = ReadTensor(names[i], outputValuePtrs[i]);
            }

            return results;
        }
        finally
        {
            foreach (var p in outputValuePtrs)
            {
                if (p != 0)
                {
                    api.ReleaseValue(p);
                }
            }

            if (added)
            {
                _handle.DangerousRelease();
            }

            runOptions?.Dispose();
            foreach (var v in inputValues)
            {
                v?.Dispose();
            }

            foreach (var pin in pins)
            {
                pin.Free();
            }

            foreach (var s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
    }

    /// <summary>
    /// A runner with preallocated input and output buffers for repeated runs without allocation.
    /// <paramref name="shapes"/> gives concrete shapes (by input or output name) where the model has symbolic
    /// dimensions; a symbolic dimension not given is taken as 1 (one frame, one face).
    /// </summary>
    public OrtRunner CreateRunner(IReadOnlyDictionary<string, long[]>? shapes = null) => new(this, shapes);

    public void Dispose() => _handle.Dispose();

    internal static OrtValueHandle CreateTensor(void* data, long byteLength, long[] shape, TensorElementType type)
    {
        var api = OrtNative.Api;
        nint value;
        fixed (long* dims = shape)
        {
            api.Check(api.CreateTensorWithDataAsOrtValue(
                OrtNative.CpuMemoryInfo.DangerousGetHandle(), data, (nuint)byteLength, dims, (nuint)shape.Length, (int)type, &value));
        }

        return new OrtValueHandle(value);
    }

    private static void Terminate(OrtRunOptionsHandle? runOptions)
    {
        if (runOptions is not null && !runOptions.IsClosed)
        {
            OrtNative.Api.Check(OrtNative.Api.RunOptionsSetTerminate(runOptions.DangerousGetHandle()));
        }
    }

    private static NamedTensor ReadTensor(string name, nint value)
    {
        var api = OrtNative.Api;
        int isTensor;
        api.Check(api.IsTensor(value, &isTensor));
        if (isTensor == 0)
        {
            throw new NotSupportedException($"Output '{name}' is not a tensor (sequences and maps are not supported).");
        }

        nint infoRaw;
        api.Check(api.GetTensorTypeAndShape(value, &infoRaw));
        using var info = new OrtTensorTypeAndShapeInfoHandle(infoRaw);
        var (type, shape) = ReadTypeAndShape(info.DangerousGetHandle());
        void* data;
        api.Check(api.GetTensorMutableData(value, &data));
        var count = checked((int)Graph.Tensors.ElementCount(shape));
        return NamedTensor.FromNative(name, type, shape, data, count);
    }

    internal static (TensorElementType Type, long[] Shape) ReadTypeAndShape(nint tensorInfo)
    {
        var api = OrtNative.Api;
        int type;
        api.Check(api.GetTensorElementType(tensorInfo, &type));
        nuint rank;
        api.Check(api.GetDimensionsCount(tensorInfo, &rank));
        var shape = new long[(int)rank];
        fixed (long* p = shape)
        {
            api.Check(api.GetDimensions(tensorInfo, p, rank));
        }

        return ((TensorElementType)type, shape);
    }

    private TensorInfo[] ReadInfos(bool isInput)
    {
        var api = OrtNative.Api;
        var session = _handle.DangerousGetHandle();
        nuint count;
        api.Check(isInput ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count));
        var allocator = OrtNative.DefaultAllocator();
        var result = new TensorInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* namePtr;
            api.Check(isInput ? api.SessionGetInputName(session, i, allocator, &namePtr) : api.SessionGetOutputName(session, i, allocator, &namePtr));
            string name;
            try
            {
                name = OrtNative.Utf8(namePtr);
            }
            finally
            {
                api.Check(api.AllocatorFree(allocator, namePtr));
            }

            nint typeInfoRaw;
            api.Check(isInput ? api.SessionGetInputTypeInfo(session, i, &typeInfoRaw) : api.SessionGetOutputTypeInfo(session, i, &typeInfoRaw));
            using var typeInfo = new OrtTypeInfoHandle(typeInfoRaw);
            int onnxType;
            api.Check(api.GetOnnxTypeFromTypeInfo(typeInfo.DangerousGetHandle(), &onnxType));
            if (onnxType != 1 /* ONNX_TYPE_TENSOR */)
            {
                result[(int)i] = new TensorInfo(name, TensorElementType.Undefined, []);
                continue;
            }

            nint tensorInfo; // owned by typeInfo, not released separately
            api.Check(api.CastTypeInfoToTensorInfo(typeInfo.DangerousGetHandle(), &tensorInfo));
            var (type, shape) = ReadTypeAndShape(tensorInfo);
            result[(int)i] = new TensorInfo(name, type, shape);
        }

        return result;
    }

    private static OrtSessionOptionsHandle CreateOptions(SessionSettings settings, ILogger logger, out IReadOnlyList<string> active)
    {
        var api = OrtNative.Api;
        nint raw;
        api.Check(api.CreateSessionOptions(&raw));
        var options = new OrtSessionOptionsHandle(raw);
        try
        {
            var o = options.DangerousGetHandle();
            api.Check(api.SetIntraOpNumThreads(o, settings.IntraOpThreads));
            api.Check(api.SetInterOpNumThreads(o, settings.InterOpThreads));
            api.Check(api.SetSessionGraphOptimizationLevel(o, (int)settings.GraphOptimizationLevel));
            api.Check(api.SetSessionExecutionMode(o, (int)settings.ExecutionMode));
            if (!string.IsNullOrWhiteSpace(settings.OptimizedModelFilePath))
            {
                var p = OrtPath(Path.GetFullPath(settings.OptimizedModelFilePath));
                fixed (byte* pp = p)
                {
                    api.Check(api.SetOptimizedModelFilePath(o, pp));
                }
            }

            if (!string.IsNullOrWhiteSpace(settings.ProfileFilePrefix))
            {
                var p = OrtPath(Path.GetFullPath(settings.ProfileFilePrefix));
                fixed (byte* pp = p)
                {
                    api.Check(api.EnableProfiling(o, pp));
                }
            }

            foreach (var (key, value) in settings.ConfigEntries.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                var k = ExecutionProviders.NullTerminated(key);
                var v = ExecutionProviders.NullTerminated(value);
                fixed (byte* kp = k, vp = v)
                {
                    api.Check(api.AddSessionConfigEntry(o, kp, vp));
                }
            }

            active = ExecutionProviders.Append(options, settings, logger);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>ORTCHAR_T is UTF-8 char on Linux and macOS, UTF-16 wchar_t on Windows; both NUL-terminated.</summary>
    private static byte[] OrtPath(string path) => OperatingSystem.IsWindows()
        ? Encoding.Unicode.GetBytes(path + "\0")
        : ExecutionProviders.NullTerminated(path);
}
