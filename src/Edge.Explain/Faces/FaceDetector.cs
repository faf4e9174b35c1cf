using Edge.Onnx.Runtime;

namespace Edge.Explain.Faces;

/// <summary>
/// BlazeFace on ONNX Runtime: letterbox + resize into the runner's input buffer, one run, decode + NMS, boxes
/// mapped back to frame pixels (clamped to the frame). Reuses every buffer; not thread-safe.
/// </summary>
public sealed class FaceDetector : IDisposable
{
    private readonly OrtSession _session;
    private readonly OrtRunner _runner;
    private readonly LetterboxResizer _resizer;
    private readonly BlazeFaceDecoder _decoder;
    private readonly FaceDetection[] _detections;
    private readonly int _logitsFine;
    private readonly int _logitsCoarse;
    private readonly int _boxesFine;
    private readonly int _boxesCoarse;

    public FaceDetector(OrtEnvironment environment, string modelPath, SessionSettings settings, int maxFaces)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _session = environment.CreateSession(modelPath, settings);
        try
        {
            var input = _session.Inputs.Single();
            if (input.Shape.Length != 4 || input.Shape[1] != input.Shape[2] || input.Shape[3] != 3)
            {
                throw new InvalidDataException($"{modelPath}: input {input} is not a square NHWC RGB image; is this a BlazeFace model from edge model build?");
            }

            InputSize = (int)input.Shape[1];
            _runner = _session.CreateRunner();
            _logitsFine = _runner.OutputIndex("Identity");
            _logitsCoarse = _runner.OutputIndex("Identity_1");
            _boxesFine = _runner.OutputIndex("Identity_2");
            _boxesCoarse = _runner.OutputIndex("Identity_3");
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        _resizer = new LetterboxResizer(InputSize);
        _decoder = new BlazeFaceDecoder(InputSize);
        _detections = new FaceDetection[maxFaces];
        ModelPath = modelPath;
    }

    public int InputSize { get; }

    public string ModelPath { get; }

    /// <summary>Fills the detector input from a frame (letterbox, resize, normalise).</summary>
    public void Prepare(ReadOnlySpan<byte> rgb24, int width, int height) => _resizer.Resize(rgb24, width, height, _runner.Input(0));

    /// <summary>Runs the model on the prepared input.</summary>
    public void Infer() => _runner.Run();

    /// <summary>
    /// Decodes the last run into at most <paramref name="boxes"/>.Length faces, best first, in frame pixels; when
    /// <paramref name="mouths"/> is not empty it receives each face's mouth keypoint.
    /// </summary>
    public int Decode(int width, int height, float minScore, float iouThreshold, float nestedThreshold, Span<FaceBox> boxes, Span<float> scores, Span<FacePoint> mouths = default)
    {
        var n = _decoder.Decode(
            _runner.Output(_logitsFine),
            _runner.Output(_logitsCoarse),
            _runner.Output(_boxesFine),
            _runner.Output(_boxesCoarse),
            minScore,
            iouThreshold,
            nestedThreshold,
            _detections.AsSpan(0, Math.Min(_detections.Length, boxes.Length)));
        for (var i = 0; i < n; i++)
        {
            ref readonly var d = ref _detections[i];
            var (x1, y1) = _resizer.ToSource(d.X1, d.Y1);
            var (x2, y2) = _resizer.ToSource(d.X2, d.Y2);
            boxes[i] = new FaceBox(Math.Clamp(x1, 0, width), Math.Clamp(y1, 0, height), Math.Clamp(x2, 0, width), Math.Clamp(y2, 0, height));
            scores[i] = d.Score;
            if (i < mouths.Length)
            {
                var (mx, my) = _resizer.ToSource(d.MouthX, d.MouthY);
                mouths[i] = new FacePoint(mx, my);
            }
        }

        return n;
    }

    /// <summary>Prepare, infer and decode in one call.</summary>
    public int Detect(ReadOnlySpan<byte> rgb24, int width, int height, float minScore, float iouThreshold, float nestedThreshold, Span<FaceBox> boxes, Span<float> scores)
    {
        Prepare(rgb24, width, height);
        Infer();
        return Decode(width, height, minScore, iouThreshold, nestedThreshold, boxes, scores);
    }

    public void Dispose()
    {
        _runner.Dispose();
        _session.Dispose();
    }
}
