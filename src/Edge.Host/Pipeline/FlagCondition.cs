using System.Globalization;
using Edge.Explain;

namespace Edge.Host.Pipeline;

/// <summary>A parsed <c>QUANTITY OP NUMBER</c> condition, e.g. <c>happy &lt; 0.2</c> or <c>angry+disgust+fear+sad &gt; 0.6</c>.</summary>
public sealed class FlagCondition
{
    private const int Detector = -1;
    private readonly int[] _classes;

    private FlagCondition(int[] classes, string op, float threshold, string quantity)
    {
        (_classes, Op, Threshold, Quantity) = (classes, op, threshold, quantity);
    }

    public string Quantity { get; }

    public string Op { get; }

    public float Threshold { get; }

    public static bool TryParse(string text, out FlagCondition? condition, out string error)
    {
        condition = null;
        var parts = (text ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 3)
        {
            error = $"must read 'QUANTITY OP NUMBER' with spaces around OP, e.g. 'happy < 0.2' (was '{text}')";
            return false;
        }

        if (parts[1] is not ("<" or "<=" or ">" or ">="))
        {
            error = $"operator must be <, <=, > or >= (was '{parts[1]}')";
            return false;
        }

        if (!float.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold) || threshold is < 0 or > 1)
        {
            error = $"threshold must be a number in [0, 1] (was '{parts[2]}')";
            return false;
        }

        int[] classes;
        if (parts[0].Equals("detector", StringComparison.OrdinalIgnoreCase))
        {
            classes = [Detector];
        }
        else
        {
            var names = parts[0].Split('+');
            classes = new int[names.Length];
            for (var i = 0; i < names.Length; i++)
            {
                var index = -1;
                for (var c = 0; c < Expressions.Count; c++)
                {
                    if (string.Equals(Expressions.Names[c], names[i], StringComparison.OrdinalIgnoreCase))
                    {
                        index = c;
                    }
                }

                if (index < 0)
                {
                    error = $"unknown quantity '{names[i]}': use 'detector' or expression names ({string.Join(", ", Expressions.Names)}) joined by '+'";
                    return false;
                }

                classes[i] = index;
            }
        }

        condition = new FlagCondition(classes, parts[1], threshold, parts[0].ToLowerInvariant());
        error = "";
        return true;
    }

    /// <summary>The quantity's value for a face: summed class probabilities, or the detector score.</summary>
    public float Measure(FaceResult face)
    {
        if (_classes[0] == Detector)
        {
            return face.DetectorScore;
        }

        var sum = 0f;
        foreach (var c in _classes)
        {
            sum += face.Scores[c];
        }

        return sum;
    }

    public bool Holds(float value) => Op switch
    {
        "<" => value < Threshold,
        "<=" => value <= Threshold,
        ">" => value > Threshold,
        _ => value >= Threshold,
    };
}
