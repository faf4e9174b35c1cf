using System.Collections.Concurrent;
using Expressions = Edge.Explain.Expressions;
using System.Diagnostics;
using Edge.Explain;
using Edge.Host.Gpio;
using Edge.Host.Pipeline;
using Edge.Sync.Contract;

namespace Edge.Host.Tests;

// Doubles for stages that are not built yet in this worktree (the analyzer and explainer from Edge.Explain,
// the outbox from Edge.Sync) and for hardware (GPIO). Everything else in these tests is real.

/// <summary>
/// Not-yet-built stage double: one face per frame, whose scores follow a script indexed by call number
/// (cycling), and whose box is fixed. Deterministic; can be made slow to load the pipeline.
/// </summary>
internal sealed class ScriptedAnalyzer(IReadOnlyList<float[]> script, FaceBox box, float detectorScore = 0.9f, TimeSpan delay = default) : IFaceAnalyzer
{
    private int _calls;
    private int _unscored;

    public int Calls => Volatile.Read(ref _calls);

    public string ModelId => "scripted-test-analyzer";

    public string ModelSha256 => "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    public static float[] Scores(float happy, float sad = 0, float angry = 0)
    {
        var s = new float[Expressions.Count];
        s[Expressions.IndexOf("happy")] = happy;
        s[Expressions.IndexOf("sad")] = sad;
        s[Expressions.IndexOf("angry")] = angry;
        s[Expressions.IndexOf("neutral")] = Math.Max(0, 1 - happy - sad - angry);
        return s;
    }

    /// <summary>Frames analyzed with score = false (the pipeline has its explainer score the faces).</summary>
    public int UnscoredCalls => Volatile.Read(ref _unscored);

    public int Analyze(ReadOnlySpan<byte> rgb24, int width, int height, List<FaceResult> results, bool score = true)
    {
        if (!score)
        {
            Interlocked.Increment(ref _unscored);
        }

        if (delay > TimeSpan.Zero)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < delay)
            {
                Thread.Sleep(1);
            }
        }

        var n = Interlocked.Increment(ref _calls) - 1;
        results.Clear();
        var face = new FaceResult { Box = box, DetectorScore = detectorScore };
        script[n % script.Count].CopyTo(face.Scores, 0);
        results.Add(face);
        return 1;
    }
}

/// <summary>Not-yet-built stage double: a 2×2 heatmap whose values name the class, encoded as raw floats.</summary>
internal sealed class MarkingExplainer : IFaceExplainer
{
    public int Calls { get; private set; }

    public int ScoringCalls { get; private set; }

    /// <summary>The scripted analyzer always scores; as the scorer this explainer keeps those scores (argmax for the top class).</summary>
    public void Explain(ReadOnlySpan<byte> rgb24, int width, int height, FaceResult face, int targetClass, bool writeScores = false)
    {
        Calls++;
        ScoringCalls += writeScores ? 1 : 0;
        targetClass = targetClass == IFaceExplainer.TopClass ? Array.IndexOf(face.Scores, face.Scores.Max()) : targetClass;
        face.Heatmaps.Add(new Edge.Explain.Heatmap(Expressions.Names[targetClass], 2, 2, [targetClass, 0, 0, 1]));
    }

    public Edge.Sync.Contract.Heatmap Encode(Edge.Explain.Heatmap heatmap)
    {
        var bytes = new byte[heatmap.Relevance.Length * 4];
        Buffer.BlockCopy(heatmap.Relevance, 0, bytes, 0, bytes.Length);
        return new Edge.Sync.Contract.Heatmap
        {
            TargetClass = heatmap.TargetClass,
            CodecVersion = 0,
            Width = (uint)heatmap.Width,
            Height = (uint)heatmap.Height,
            Scale = 1,
            Data = Google.Protobuf.ByteString.CopyFrom(bytes),
        };
    }
}

/// <summary>Not-yet-built stage double for the outbox: keeps every event; can refuse on demand.</summary>
internal sealed class RecordingSink : IFaceEventSink
{
    public ConcurrentQueue<FaceEvent> Events { get; } = new();

    public volatile bool Refuse;

    public long Pending => 0;

    public ValueTask EnqueueAsync(FaceEvent faceEvent, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Refuse)
        {
            throw new IOException("outbox disk full (test)");
        }

        Events.Enqueue(faceEvent);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Hardware double: GPIO lines in memory.</summary>
internal sealed class FakeGpioDriver : IGpioDriver
{
    public ConcurrentDictionary<(string Chip, int Line), FakeLine> Lines { get; } = new();

    public IGpioLine OpenInput(string chip, int offset, string consumer) => Lines.GetOrAdd((chip, offset), _ => new FakeLine());

    public IGpioLine OpenOutput(string chip, int offset, string consumer, int initialValue)
    {
        var line = Lines.GetOrAdd((chip, offset), _ => new FakeLine());
        line.Value = initialValue;
        return line;
    }

    internal sealed class FakeLine : IGpioLine
    {
        public volatile int Value;

        public ConcurrentQueue<int> Writes { get; } = new();

        public bool Disposed { get; private set; }

        public int Read() => Value;

        public void Write(int value)
        {
            Value = value;
            Writes.Enqueue(value);
        }

        public void Dispose() => Disposed = true;
    }
}
