using System.Buffers;
using System.Runtime.CompilerServices;

namespace Edge.Explain.Heatmaps;

/// <summary>
/// Heatmap codec v2 (see the Explain README, "heatmap codec v2", for the byte layout): integer values
/// V (relevance = V × scale) coded coarse-to-fine. A 2^L-spaced grid is coded first (each point predicted from its
/// left, upper and upper-right coded neighbours), then each finer level fills the midpoints between coded points
/// (horizontal, vertical, centre) by interpolating them. Prediction works on values divided by a per-phase gain
/// (P × P phases, one byte each): the stride-2 checkerboard of LRP maps is mostly a fixed gain per phase, so divided
/// by it the map is smooth. V = prediction + 8 × q; q goes through an adaptive binary range coder whose contexts are
/// the stage, the size of the neighbours' q and of the prediction. Every step is integer arithmetic, so the encoder
/// and any decoder agree bit for bit.
/// </summary>
internal static class HeatmapCodecV2
{
    /// <summary>V = prediction + <see cref="QuantStep"/> × q: predictions are 8 times finer than the quantiser step.</summary>
    public const int QuantStep = 8;

    /// <summary>Decoded values must satisfy |V| ≤ this (2²⁴ − 1, exact in a float).</summary>
    public const int MaxValue = (1 << 24) - 1;

    /// <summary>The Elias-gamma escape of a large |q| has at most this many leading one bits.</summary>
    public const int MaxEscapeBits = 26;

    /// <summary>The format byte this encoder writes: L = 2 levels (4-spaced coarse grid), P = 4 (16 gains).</summary>
    public const int EncoderLevels = 2;
    public const int EncoderPeriodLog2 = 2;

    private const int Buckets = 8;
    private const int MagnitudeBins = 16;
    private const int MaxStages = 10; // coarse grid + 3 per level, L ≤ 3
    private const int Contexts = MaxStages * Buckets;
    private const int ModelCount = Contexts * (1 + 3 + MagnitudeBins);
    private const int GainOne = 1 << 20; // normalised value n = V × (2²⁰ / G)

    // Encoder rounding: |r| / 8 + Theta, floored (0.5 would round to nearest); values just past a step stay at the lower level.
    private const double Theta = 0.375;

    public static int HeaderLength(int periodLog2) => 2 + (1 << (2 * periodLog2));

    /// <summary>Reads the format byte; null when it is valid, else the problem.</summary>
    public static string? ReadFormat(ReadOnlySpan<byte> data, out int levels, out int periodLog2)
    {
        levels = periodLog2 = 0;
        if (data.IsEmpty)
        {
            return "heatmap v2 data is empty";
        }

        var format = data[0];
        levels = (format >> 2) & 3;
        periodLog2 = format & 3;
        if ((format & 0xF0) != 0 || periodLog2 == 3)
        {
            return $"heatmap v2 format byte 0x{format:X2} is not valid (bits 4–7 must be 0, period 1, 2 or 4)";
        }

        if (data.Length < HeaderLength(periodLog2))
        {
            return $"heatmap v2 data of {data.Length} bytes is shorter than its {HeaderLength(periodLog2)}-byte header";
        }

        for (var k = 0; k < 1 << (2 * periodLog2); k++)
        {
            if (data[1 + k] == 0)
            {
                return $"heatmap v2 gain {k} is 0 (must be 1–255)";
            }
        }

        return null;
    }

    /// <summary>
    /// Decodes into <paramref name="values"/> (width × height, row-major); null when the data is valid, else the problem.
    /// Work and memory are bounded by width × height whatever the bytes say.
    /// </summary>
    public static string? TryDecode(ReadOnlySpan<byte> data, int width, int height, Span<int> values)
    {
        var problem = ReadFormat(data, out var levels, out var periodLog2);
        if (problem is not null)
        {
            return problem;
        }

        var n = width * height;
        var header = HeaderLength(periodLog2);
        var normalised = ArrayPool<long>.Shared.Rent(n);
        var padded = PaddedLength(width, height, levels);
        var magnitudes = ArrayPool<byte>.Shared.Rent(padded);
        var signs = ArrayPool<sbyte>.Shared.Rent(padded);
        try
        {
            Span<BitModel> models = stackalloc BitModel[ModelCount];
            models.Fill(BitModel.Initial);
            var source = new DecodingSource(data[header..], models);
            var walker = new Walker(new Layout(width, height, levels, periodLog2, data.Slice(1, 1 << (2 * periodLog2))),
                values[..n], normalised.AsSpan(0, n), magnitudes.AsSpan(0, padded), signs.AsSpan(0, padded));
            var outOfRange = walker.Walk(ref source, withContexts: true);
            if (source.Problem is not null)
            {
                return source.Problem;
            }

            if (outOfRange >= 0)
            {
                return $"heatmap v2 value at ({outOfRange % width}, {outOfRange / width}) is outside ±{MaxValue}";
            }

            if (data.Length - header > source.Position)
            {
                return $"heatmap v2 data has {data.Length - header - source.Position} bytes after the end of its coded values";
            }

            var check = Check(values[..n]);
            return check == data[header - 1] ? null : $"heatmap v2 check byte is 0x{data[header - 1]:X2}, the decoded values give 0x{check:X2}";
        }
        finally
        {
            ArrayPool<long>.Shared.Return(normalised);
            ArrayPool<byte>.Shared.Return(magnitudes);
            ArrayPool<sbyte>.Shared.Return(signs);
        }
    }

    /// <summary>Context scratch: the map with a border of 2 × the coarse spacing on every side.</summary>
    private static int PaddedLength(int width, int height, int levels) => (width + (4 << levels)) * (height + (4 << levels));

    /// <summary>
    /// Encodes with the fewest bytes whose decoded map correlates ≥ <paramref name="minCorrelation"/> with the input
    /// (the quantiser step is searched; the encoder measures its own decoded output), unless that exceeds
    /// <paramref name="maxBytes"/>: then the finest step that fits. No managed allocation once the pools are warm.
    /// <paramref name="levels"/> (0–3) and <paramref name="periodLog2"/> (0–2) are the format byte's; other values than
    /// the defaults serve the decoder's tests.
    /// </summary>
    public static HeatmapFrame EncodeTo(ReadOnlySpan<float> map, int width, int height, Span<byte> destination, int maxBytes, double minCorrelation,
        int levels = EncoderLevels, int periodLog2 = EncoderPeriodLog2)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)levels, 3u, nameof(levels));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)periodLog2, 2u, nameof(periodLog2));
        var n = width * height;
        var values = ArrayPool<int>.Shared.Rent(n);
        var normalised = ArrayPool<long>.Shared.Rent(n);
        var padded = PaddedLength(width, height, levels);
        var magnitudes = ArrayPool<byte>.Shared.Rent(padded);
        var signs = ArrayPool<sbyte>.Shared.Rent(padded);
        try
        {
            var scratch = new Scratch(values.AsSpan(0, n), normalised.AsSpan(0, n), magnitudes.AsSpan(0, padded), signs.AsSpan(0, padded));
            Span<byte> gains = stackalloc byte[1 << (2 * periodLog2)];
            var maxAbs = Gains(map, width, height, periodLog2, gains);
            var layout = new Layout(width, height, levels, periodLog2, gains);
            if (!(maxAbs > 0) || !float.IsFinite(maxAbs))
            {
                // All zero (or not finite, as v1 treats it): scale 0, every value 0.
                return new HeatmapFrame(HeatmapCodec.Version2, width, height, 0f, Code(map, layout, 0f, scratch, destination));
            }

            var step = SearchStep(map, layout, scratch, maxAbs, minCorrelation);
            var scale = (float)(step / QuantStep);
            var length = Code(map, layout, scale, scratch, destination);
            if (length > maxBytes || length > destination.Length)
            {
                // Too big at the target correlation: the finest step that fits (coarser steps cost fewer bytes).
                var fits = (double)maxAbs * 16;
                var tooBig = step;
                for (var i = 0; i < 12 && fits / tooBig > 1.01; i++)
                {
                    var mid = Math.Sqrt(fits * tooBig);
                    var bytes = Code(map, layout, (float)(mid / QuantStep), scratch, destination);
                    if (bytes <= maxBytes && bytes <= destination.Length)
                    {
                        fits = mid;
                    }
                    else
                    {
                        tooBig = mid;
                    }
                }

                scale = (float)(fits / QuantStep);
                length = Code(map, layout, scale, scratch, destination);
            }

            return new HeatmapFrame(HeatmapCodec.Version2, width, height, scale, length);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(values);
            ArrayPool<long>.Shared.Return(normalised);
            ArrayPool<byte>.Shared.Return(magnitudes);
            ArrayPool<sbyte>.Shared.Return(signs);
        }
    }

    private readonly ref struct Scratch(Span<int> values, Span<long> normalised, Span<byte> magnitudes, Span<sbyte> signs)
    {
        public readonly Span<int> Values = values;
        public readonly Span<long> Normalised = normalised;
        public readonly Span<byte> Magnitudes = magnitudes;
        public readonly Span<sbyte> Signs = signs;
    }

    /// <summary>
    /// The largest quantiser step (value units × scale) whose decoded map still meets the correlation: distortion grows about as
    /// step², so each guess scales the step by ((1 − target) / (1 − r))^(1/γ), γ fitted from the last two tries, kept inside the
    /// bracket of known good and bad steps; stops when the bracket is within 2 % or r is within 0.0005 above the target.
    /// </summary>
    private static double SearchStep(ReadOnlySpan<float> map, Layout layout, Scratch scratch, float maxAbs, double target)
    {
        double sum = 0, sumSquares = 0;
        foreach (var v in map)
        {
            sum += v;
            sumSquares += (double)v * v;
        }

        var rms = Math.Sqrt(sumSquares / map.Length);
        var input = (sum, sumSquares);
        // The search's one-pass correlation may differ from HeatmapCodec.Correlation's two-pass one in the last digits.
        var goal = target + 1e-7;
        // |V| ≤ 2²⁰ keeps every product of the integer prediction far inside a long.
        var minStep = maxAbs * Math.Pow(2, -17);
        var maxStep = maxAbs * 16.0;
        var good = 0.0;
        var bad = double.PositiveInfinity;
        var step = Math.Clamp(0.5 * rms, minStep, maxStep);
        double previousStep = 0, previousError = 0;
        for (var iteration = 0; iteration < 16; iteration++)
        {
            var r = Reconstruct(map, layout, (float)(step / QuantStep), scratch, input);
            var error = 1 - r;
            if (r >= goal)
            {
                good = Math.Max(good, step);
                if (r - goal < 0.0005)
                {
                    break;
                }
            }
            else
            {
                bad = Math.Min(bad, step);
                if (step <= minStep)
                {
                    break;
                }
            }

            if (good > 0 && bad / good < 1.02)
            {
                break;
            }

            var gamma = 2.0;
            if (previousStep > 0 && previousError > 0 && error > 0 && previousStep != step && previousError != error)
            {
                gamma = Math.Clamp(Math.Log(error / previousError) / Math.Log(step / previousStep), 1.0, 3.0);
            }

            var next = error > 0 ? step * Math.Pow((1 - target) / error, 1 / gamma) : step * 4;
            if (next <= good || next >= bad)
            {
                next = good > 0 && !double.IsPositiveInfinity(bad) ? Math.Sqrt(good * bad) : good > 0 ? good * 2 : bad / 2;
            }

            (previousStep, previousError) = (step, error);
            step = Math.Clamp(next, minStep, maxStep);
            if (step == previousStep)
            {
                break;
            }
        }

        return good > 0 ? good : minStep;
    }

    /// <summary>
    /// Quantises at <paramref name="scale"/> (no coding) and returns the correlation of the decoded map (V × scale, as
    /// floats, as the decoder computes it) with the input, whose sum and sum of squares are given.
    /// </summary>
    private static double Reconstruct(ReadOnlySpan<float> map, Layout layout, float scale, Scratch scratch, (double Sum, double Squares) input)
    {
        var source = new QuantisingSource(map, scale);
        _ = new Walker(layout, scratch.Values, scratch.Normalised, scratch.Magnitudes, scratch.Signs).Walk(ref source, withContexts: false);
        double sy = 0, syy = 0, sxy = 0;
        var values = scratch.Values;
        for (var i = 0; i < values.Length; i++)
        {
            double y = values[i] * scale;
            sy += y;
            syy += y * y;
            sxy += y * map[i];
        }

        double n = values.Length;
        var vx = input.Squares - (input.Sum * input.Sum / n);
        var vy = syy - (sy * sy / n);
        return vx > 0 && vy > 0 ? (sxy - (input.Sum * sy / n)) / Math.Sqrt(vx * vy) : 0;
    }

    /// <summary>Quantises at <paramref name="scale"/> and writes the whole v2 data; returns its length (possibly more than fits).</summary>
    private static int Code(ReadOnlySpan<float> map, Layout layout, float scale, Scratch scratch, Span<byte> destination)
    {
        var header = HeaderLength(layout.PeriodLog2);
        if (destination.Length < header)
        {
            return int.MaxValue;
        }

        Span<BitModel> models = stackalloc BitModel[ModelCount];
        models.Fill(BitModel.Initial);
        var source = new CodingSource(map, scale, destination[header..], models);
        _ = new Walker(layout, scratch.Values, scratch.Normalised, scratch.Magnitudes, scratch.Signs).Walk(ref source, withContexts: true);
        var length = source.Finish();
        destination[0] = (byte)((layout.Levels << 2) | layout.PeriodLog2);
        layout.Gains.CopyTo(destination[1..]);
        destination[header - 1] = Check(scratch.Values);
        return length == int.MaxValue ? length : header + length;
    }

    /// <summary>Per-phase gains: 255 × rms of the phase / the largest phase rms (at least 1; all 255 for a zero map). Returns max |R|.</summary>
    private static float Gains(ReadOnlySpan<float> map, int width, int height, int periodLog2, Span<byte> gains)
    {
        var period = 1 << periodLog2;
        Span<double> energy = stackalloc double[gains.Length];
        energy.Clear();
        var maxAbs = 0f;
        for (var y = 0; y < height; y++)
        {
            var row = map.Slice(y * width, width);
            var phaseRow = (y & (period - 1)) * period;
            for (var x = 0; x < width; x++)
            {
                var v = row[x];
                maxAbs = Math.Max(maxAbs, Math.Abs(v));
                energy[phaseRow + (x & (period - 1))] += (double)v * v;
            }
        }

        var top = 0.0;
        foreach (var e in energy)
        {
            top = Math.Max(top, e);
        }

        for (var k = 0; k < gains.Length; k++)
        {
            gains[k] = top > 0 && double.IsFinite(top) ? (byte)Math.Clamp(Math.Round(255 * Math.Sqrt(energy[k] / top)), 1, 255) : (byte)255;
        }

        return maxAbs;
    }

    /// <summary>The check byte: h = h × 31 + V (uint, wrapping) over the values in row-major order, its four bytes XORed.</summary>
    public static byte Check(ReadOnlySpan<int> values)
    {
        uint h = 0;
        foreach (var v in values)
        {
            h = unchecked((h * 31) + (uint)v);
        }

        return (byte)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
    }

    private readonly ref struct Layout(int width, int height, int levels, int periodLog2, ReadOnlySpan<byte> gains)
    {
        public readonly int Width = width;
        public readonly int Height = height;
        public readonly int Levels = levels;
        public readonly int PeriodLog2 = periodLog2;
        public readonly ReadOnlySpan<byte> Gains = gains;
    }

    /// <summary>Where the residual q of each value comes from: quantising the map, quantising and coding it, or decoding it.</summary>
    private interface IResidualSource
    {
        /// <summary>q for value <paramref name="index"/> given its integer prediction; the contexts are valid when walking with contexts.</summary>
        int Residual(int index, long prediction, int context, int signContext);
    }

    /// <summary>
    /// The coding order, prediction and contexts, shared by the encoder and the decoder over caller-owned buffers:
    /// visits every value (coarse grid, then per level the horizontal, vertical and centre midpoints), predicts it from
    /// coded neighbours, asks the source for q and stores V = prediction + 8q.
    /// </summary>
    private ref struct Walker
    {
        private readonly int _width;
        private readonly int _height;
        private readonly int _levels;
        private readonly int _periodLog2;
        private readonly int _periodMask;
        private readonly ReadOnlySpan<byte> _gains;
        private Reciprocals _reciprocal;
        private readonly Span<int> _values;
        private readonly Span<long> _normalised;
        private readonly Span<byte> _magnitudes;
        private readonly Span<sbyte> _signs;
        private readonly int _pad;
        private readonly int _paddedWidth;

        /// <param name="magnitudes">Context scratch of <see cref="PaddedLength"/> bytes: 0 = not coded yet, else 1 + min(|q|, 63).</param>
        /// <param name="signs">Context scratch of <see cref="PaddedLength"/> bytes: the sign of q (0 = not coded yet).</param>
        public Walker(Layout layout, Span<int> values, Span<long> normalised, Span<byte> magnitudes, Span<sbyte> signs)
        {
            (_width, _height, _levels, _periodLog2) = (layout.Width, layout.Height, layout.Levels, layout.PeriodLog2);
            _periodMask = (1 << _periodLog2) - 1;
            _gains = layout.Gains;
            for (var k = 0; k < _gains.Length; k++)
            {
                _reciprocal[k] = GainOne / _gains[k];
            }

            _values = values;
            _normalised = normalised;
            _magnitudes = magnitudes;
            _signs = signs;
            _pad = 2 << _levels;
            _paddedWidth = _width + (2 * _pad);
        }

        /// <summary>The position of the first value out of range (|V| > <see cref="MaxValue"/>), or −1 when all are in range.</summary>
        public readonly int Walk<T>(scoped ref T source, bool withContexts)
            where T : IResidualSource, allows ref struct
        {
            if (withContexts)
            {
                _magnitudes.Clear();
                _signs.Clear();
            }

            var (width, height) = (_width, _height);
            var normalised = _normalised;
            var coarse = 1 << _levels;
            // stage 0: the coarse grid, raster order; prediction (2 × left + up + up-right) / 4 (up-right → up at the right edge).
            for (var y = 0; y < height; y += coarse)
            {
                for (var x = 0; x < width; x += coarse)
                {
                    long sum;
                    int shift;
                    if (x >= coarse && y >= coarse)
                    {
                        var up = normalised[((y - coarse) * width) + x];
                        var upRight = x + coarse < width ? normalised[((y - coarse) * width) + x + coarse] : up;
                        sum = (2 * normalised[(y * width) + x - coarse]) + up + upRight;
                        shift = 2;
                    }
                    else
                    {
                        sum = x >= coarse ? normalised[(y * width) + x - coarse] : y >= coarse ? normalised[((y - coarse) * width) + x] : 0;
                        shift = 0;
                    }

                    if (!Put(ref source, x, y, coarse, 0, sum, shift, withContexts))
                    {
                        return (y * width) + x;
                    }
                }
            }

            var stage = 1;
            for (var s = coarse / 2; s >= 1; s /= 2, stage += 3)
            {
                // horizontal midpoints: (left + right) / 2, a missing right neighbour replaced by the left one
                for (var y = 0; y < height; y += 2 * s)
                {
                    for (var x = s; x < width; x += 2 * s)
                    {
                        var left = normalised[(y * width) + x - s];
                        var sum = left + (x + s < width ? normalised[(y * width) + x + s] : left);
                        if (!Put(ref source, x, y, s, stage, sum, 1, withContexts))
                        {
                            return (y * width) + x;
                        }
                    }
                }

                // vertical midpoints: (up + down) / 2
                for (var y = s; y < height; y += 2 * s)
                {
                    for (var x = 0; x < width; x += 2 * s)
                    {
                        var up = normalised[((y - s) * width) + x];
                        var sum = up + (y + s < height ? normalised[((y + s) * width) + x] : up);
                        if (!Put(ref source, x, y, s, stage + 1, sum, 1, withContexts))
                        {
                            return (y * width) + x;
                        }
                    }
                }

                // centres: (up + left + down + right) / 4, a missing down/right replaced by up/left
                for (var y = s; y < height; y += 2 * s)
                {
                    for (var x = s; x < width; x += 2 * s)
                    {
                        var up = normalised[((y - s) * width) + x];
                        var left = normalised[(y * width) + x - s];
                        var sum = up + left + (y + s < height ? normalised[((y + s) * width) + x] : up) + (x + s < width ? normalised[(y * width) + x + s] : left);
                        if (!Put(ref source, x, y, s, stage + 2, sum, 2, withContexts))
                        {
                            return (y * width) + x;
                        }
                    }
                }
            }

            return -1;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly bool Put<T>(scoped ref T source, int x, int y, int spacing, int stage, long sum, int shift, bool withContexts)
            where T : IResidualSource, allows ref struct
        {
            var i = (y * _width) + x;
            var phase = ((y & _periodMask) << _periodLog2) + (x & _periodMask);
            // prediction = round(G × sum / (2^shift × 2²⁰)), halves rounded up
            var prediction = ((_gains[phase] * sum) + (1L << (19 + shift))) >> (20 + shift);
            int context = 0, signContext = 0;
            if (withContexts)
            {
                (context, signContext) = ContextsOf(x, y, spacing, stage, prediction);
            }

            var q = source.Residual(i, prediction, context, signContext);
            var v = prediction + ((long)QuantStep * q);
            if (v > MaxValue || v < -MaxValue)
            {
                return false;
            }

            _values[i] = (int)v;
            _normalised[i] = v * _reciprocal[phase];
            if (withContexts)
            {
                var j = ((y + _pad) * _paddedWidth) + x + _pad;
                _magnitudes[j] = (byte)(1 + Math.Min(Math.Abs(q), 63));
                _signs[j] = (sbyte)Math.Sign(q);
            }

            return true;
        }

        /// <summary>
        /// Context = stage × 8 + bucket of f = ⌊4 × Σ min(|q|, 63) / count⌋ over the coded values among the 12 positions within
        /// city-block distance 2 (in steps of the stage's spacing), 0 when none is coded, + min(⌊|prediction| / 16⌋, 1000);
        /// sign context = sign of the sum of the signs of q at the four coded neighbours at ± spacing (0: zero, 1: +, 2: −).
        /// </summary>
        private readonly (int Context, int SignContext) ContextsOf(int x, int y, int spacing, int stage, long prediction)
        {
            var m = _magnitudes;
            var centre = ((y + _pad) * _paddedWidth) + x + _pad;
            var (a, b) = (spacing, spacing * _paddedWidth);
            // 0 = not coded yet, else 1 + min(|q|, 63); branch-free: (v + 63) >> 6 is 1 for a coded value, 0 otherwise.
            int v0 = m[centre - b - a], v1 = m[centre - b], v2 = m[centre - b + a], v3 = m[centre - a], v4 = m[centre + a], v5 = m[centre + b - a];
            int v6 = m[centre + b], v7 = m[centre + b + a], v8 = m[centre - (2 * a)], v9 = m[centre + (2 * a)], v10 = m[centre - (2 * b)], v11 = m[centre + (2 * b)];
            var count = ((v0 + 63) >> 6) + ((v1 + 63) >> 6) + ((v2 + 63) >> 6) + ((v3 + 63) >> 6) + ((v4 + 63) >> 6) + ((v5 + 63) >> 6)
                + ((v6 + 63) >> 6) + ((v7 + 63) >> 6) + ((v8 + 63) >> 6) + ((v9 + 63) >> 6) + ((v10 + 63) >> 6) + ((v11 + 63) >> 6);
            var magnitude = v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9 + v10 + v11 - count;
            var signs = _signs[centre - spacing] + _signs[centre + spacing] + _signs[centre - (spacing * _paddedWidth)] + _signs[centre + (spacing * _paddedWidth)];
            var f = (count == 0 ? 0 : 4 * magnitude / count) + Math.Min(Math.Abs(prediction) / 16, 1000);
            var bucket = f switch
            {
                0 => 0,
                1 => 1,
                2 => 2,
                <= 4 => 3,
                <= 7 => 4,
                <= 12 => 5,
                <= 20 => 6,
                _ => 7,
            };
            return ((stage * Buckets) + bucket, signs == 0 ? 0 : signs > 0 ? 1 : 2);
        }
    }

    /// <summary>2²⁰ / G per phase (P ≤ 4: at most 16 phases).</summary>
    [InlineArray(16)]
    private struct Reciprocals
    {
        private long _element;
    }

    // Model layout: zero flags [Contexts], signs [Contexts × 3], magnitude bins [Contexts × 16].
    private const int SignModels = Contexts;
    private const int MagnitudeModels = Contexts * 4;

    private static int Quantise(ReadOnlySpan<float> map, int index, double inverseScale, long prediction)
    {
        var r = ((map[index] * inverseScale) - prediction) * (1.0 / QuantStep);
        var a = Math.Floor(Math.Abs(r) + Theta);
        return (int)(r < 0 ? -a : a);
    }

    private ref struct QuantisingSource(ReadOnlySpan<float> map, float scale) : IResidualSource
    {
        private readonly ReadOnlySpan<float> _map = map;
        private readonly double _inverse = scale > 0 ? 1.0 / scale : 0;

        public readonly int Residual(int index, long prediction, int context, int signContext) => Quantise(_map, index, _inverse, prediction);
    }

    private ref struct CodingSource(ReadOnlySpan<float> map, float scale, Span<byte> destination, Span<BitModel> models) : IResidualSource
    {
        private readonly ReadOnlySpan<float> _map = map;
        private readonly double _inverse = scale > 0 ? 1.0 / scale : 0;
        private readonly Span<BitModel> _models = models;
        private RangeEncoder _encoder = new(destination);

        public int Residual(int index, long prediction, int context, int signContext)
        {
            var q = Quantise(_map, index, _inverse, prediction);
            _encoder.Encode(ref _models[context], q == 0 ? 0 : 1);
            if (q == 0)
            {
                return 0;
            }

            _encoder.Encode(ref _models[SignModels + (context * 3) + signContext], q < 0 ? 1 : 0);
            var m = (uint)Math.Abs(q) - 1;
            for (var b = 0; b < MagnitudeBins; b++)
            {
                var more = m > (uint)b ? 1 : 0;
                _encoder.Encode(ref _models[MagnitudeModels + (context * MagnitudeBins) + b], more);
                if (more == 0)
                {
                    return q;
                }
            }

            // Escape: e + 1 = m − 15 ≥ 1 as Elias gamma (leading ones, a zero, then the bits below the top one).
            var e1 = m - MagnitudeBins + 1;
            var bits = 31 - System.Numerics.BitOperations.LeadingZeroCount(e1);
            for (var k = 0; k < bits; k++)
            {
                _encoder.EncodeDirect(1, 1);
            }

            _encoder.EncodeDirect(0, 1);
            _encoder.EncodeDirect(e1, bits);
            return q;
        }

        /// <summary>Length of the range-coded part, or int.MaxValue when it did not fit.</summary>
        public int Finish()
        {
            var length = _encoder.Finish();
            return _encoder.Overflow ? int.MaxValue : length;
        }
    }

    private ref struct DecodingSource(ReadOnlySpan<byte> data, Span<BitModel> models) : IResidualSource
    {
        private readonly Span<BitModel> _models = models;
        private RangeDecoder _decoder = new(data);

        public string? Problem { get; private set; }

        public readonly int Position => _decoder.Position;

        public int Residual(int index, long prediction, int context, int signContext)
        {
            if (Problem is not null || _decoder.Decode(ref _models[context]) == 0)
            {
                return 0;
            }

            var negative = _decoder.Decode(ref _models[SignModels + (context * 3) + signContext]) == 1;
            var m = 0;
            while (m < MagnitudeBins && _decoder.Decode(ref _models[MagnitudeModels + (context * MagnitudeBins) + m]) == 1)
            {
                m++;
            }

            if (m == MagnitudeBins)
            {
                var bits = 0;
                while (_decoder.DecodeDirect(1) == 1)
                {
                    if (++bits > MaxEscapeBits)
                    {
                        Problem = $"heatmap v2 escape code of value {index} is longer than {MaxEscapeBits} bits";
                        return 0;
                    }
                }

                var e1 = (1u << bits) | _decoder.DecodeDirect(bits);
                m = (int)(e1 + MagnitudeBins - 1);
            }

            return negative ? -(m + 1) : m + 1;
        }
    }
}
