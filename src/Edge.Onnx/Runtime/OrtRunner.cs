using System.Runtime.InteropServices;

namespace Edge.Onnx.Runtime;

/// <summary>
/// Repeated runs of one session without allocation: input and output buffers live in native memory owned by
/// the runner, the OrtValues over them and the name/value pointer arrays are made once, and
/// <see cref="Run"/> only calls ORT. Fill <see cref="Input(int)"/>, call <see cref="Run"/>, read
/// <see cref="Output(int)"/>. Not thread-safe: one runner per thread (create several from one session).
/// </summary>
public sealed unsafe class OrtRunner : IDisposable
{
    private const nuint Alignment = 64;

    private readonly OrtSession _session;
    private readonly Buffer[] _inputs;
    private readonly Buffer[] _outputs;
    private readonly nint* _inputNames;
    private readonly nint* _inputValues;
    private readonly nint* _outputNames;
    private readonly nint* _outputValues;
    private int _disposed;

    internal OrtRunner(OrtSession session, IReadOnlyDictionary<string, long[]>? shapes)
    {
        _session = session;
        var added = false;
        session.Handle.DangerousAddRef(ref added); // the session outlives its runners
        try
        {
            _inputs = session.Inputs.Select(i => new Buffer(Concrete(i, shapes))).ToArray();
            _outputs = session.Outputs.Select(o => new Buffer(Concrete(o, shapes))).ToArray();
            _inputNames = PointerArray(_inputs, b => b.Name);
            _inputValues = PointerArray(_inputs, b => b.Value.DangerousGetHandle());
            _outputNames = PointerArray(_outputs, b => b.Name);
            _outputValues = PointerArray(_outputs, b => b.Value.DangerousGetHandle());
            Inputs = _inputs.Select(b => b.Info).ToArray();
            Outputs = _outputs.Select(b => b.Info).ToArray();
        }
        catch
        {
            foreach (var b in (_inputs ?? []).Concat(_outputs ?? []))
            {
                b.Dispose();
            }

            session.Handle.DangerousRelease();
            throw;
        }
    }

    /// <summary>Inputs with the concrete shapes of this runner's buffers.</summary>
    public IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>Outputs with the concrete shapes of this runner's buffers.</summary>
    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>The buffer of a float input, to fill before <see cref="Run"/>.</summary>
    public Span<float> Input(int index) => Input<float>(index);

    /// <summary>The buffer of an input whose element type is <typeparamref name="T"/>.</summary>
    public Span<T> Input<T>(int index)
        where T : unmanaged => _inputs[index].Span<T>();

    /// <summary>The buffer of a float output, valid after <see cref="Run"/> until the next one.</summary>
    public ReadOnlySpan<float> Output(int index) => Output<float>(index);

    public ReadOnlySpan<T> Output<T>(int index)
        where T : unmanaged => _outputs[index].Span<T>();

    public int InputIndex(string name) => IndexOf(Inputs, name);

    public int OutputIndex(string name) => IndexOf(Outputs, name);

    /// <summary>Runs the model over the input buffers into the output buffers. Allocates nothing on success.</summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var api = OrtNative.Api;
        var status = api.Run(
            _session.Handle.DangerousGetHandle(),
            0,
            _inputNames,
            _inputValues,
            (nuint)_inputs.Length,
            _outputNames,
            (nuint)_outputs.Length,
            _outputValues);
        api.Check(status);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var b in _inputs.Concat(_outputs))
        {
            b.Dispose();
        }

        NativeMemory.Free(_inputNames);
        NativeMemory.Free(_inputValues);
        NativeMemory.Free(_outputNames);
        NativeMemory.Free(_outputValues);
        _session.Handle.DangerousRelease();
    }

    private static int IndexOf(IReadOnlyList<TensorInfo> infos, string name)
    {
        for (var i = 0; i < infos.Count; i++)
        {
            if (string.Equals(infos[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new KeyNotFoundException($"No tensor named '{name}'; have {string.Join(", ", infos.Select(i => i.Name))}.");
    }

    private static TensorInfo Concrete(TensorInfo info, IReadOnlyDictionary<string, long[]>? shapes)
    {
        if (info.ElementType.SizeInBytes() == 0 || info.ElementType == TensorElementType.String)
        {
            throw new NotSupportedException($"'{info.Name}' has element type {info.ElementType}; a runner needs fixed-size tensors.");
        }

        if (shapes is not null && shapes.TryGetValue(info.Name, out var given))
        {
            if (given.Length != info.Shape.Length)
            {
                throw new ArgumentException($"Shape for '{info.Name}' has rank {given.Length}; the model says {info.Shape.Length} ({info}).", nameof(shapes));
            }

            for (var d = 0; d < given.Length; d++)
            {
                if (given[d] < 0 || (info.Shape[d] >= 0 && info.Shape[d] != given[d]))
                {
                    throw new ArgumentException($"Shape [{string.Join(',', given)}] for '{info.Name}' contradicts the model ({info}).", nameof(shapes));
                }
            }

            return info with { Shape = (long[])given.Clone() };
        }

        return info with { Shape = info.Shape.Select(d => d < 0 ? 1 : d).ToArray() };
    }

    private static nint* PointerArray(Buffer[] buffers, Func<Buffer, nint> select)
    {
        var p = (nint*)NativeMemory.AllocZeroed((nuint)Math.Max(1, buffers.Length), (nuint)sizeof(nint));
        for (var i = 0; i < buffers.Length; i++)
        {
            p[i] = select(buffers[i]);
        }

        return p;
    }

    /// <summary>One tensor: aligned native memory, its OrtValue and its UTF-8 name.</summary>
    private sealed class Buffer : IDisposable
    {
        private readonly void* _data;
        private readonly int _count;

        public Buffer(TensorInfo info)
        {
            Info = info;
            _count = checked((int)Graph.Tensors.ElementCount(info.Shape));
            var bytes = (nuint)Math.Max(1L, (long)_count * info.ElementType.SizeInBytes());
            _data = NativeMemory.AlignedAlloc(bytes, Alignment);
            NativeMemory.Clear(_data, bytes);
            try
            {
                Value = OrtSession.CreateTensor(_data, (long)_count * info.ElementType.SizeInBytes(), info.Shape, info.ElementType);
                Name = Marshal.StringToCoTaskMemUTF8(info.Name);
            }
            catch
            {
                Value?.Dispose();
                NativeMemory.AlignedFree(_data);
                throw;
            }
        }

        public TensorInfo Info { get; }

        public OrtValueHandle Value { get; }

        public nint Name { get; }

        public Span<T> Span<T>()
            where T : unmanaged
        {
            if (ElementTypeOf<T>.Value != Info.ElementType)
            {
                ThrowWrongType(typeof(T), Info);
            }

            return new Span<T>(_data, _count);
        }

        public void Dispose()
        {
            Value.Dispose(); // the OrtValue refers to _data: release it first
            NativeMemory.AlignedFree(_data);
            Marshal.FreeCoTaskMem(Name);
        }

        private static void ThrowWrongType(Type t, TensorInfo info) =>
            throw new InvalidOperationException($"'{info.Name}' holds {info.ElementType}, not {t.Name}.");
    }
}
