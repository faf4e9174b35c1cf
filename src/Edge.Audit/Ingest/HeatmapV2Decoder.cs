using System.Buffers;

namespace Edge.Audit.Ingest;

/// <summary>
/// Heatmap codec v2, decoder side, written from the byte layout in src/Edge.Explain/README.md ("heatmap codec v2")
/// rather than shared with the kiosk's encoder, so the two implementations check the spec against each other
/// (tests decode the encoder's real-map vectors). Integer arithmetic only; work and memory are bounded by
/// width × height whatever the bytes say.
/// </summary>
internal static class HeatmapV2Decoder
{
    private const int QuantStep = 8;
    private const int MaxValue = (1 << 24) - 1;
    private const int MaxEscapeBits = 26;
    private const int MagnitudeBins = 16;
    private const int Buckets = 8;
    private const int Contexts = 10 * Buckets; // coarse grid + 3 stages per level, L ≤ 3

    // The 12 positions within city-block distance 2 (context), in steps of the stage's spacing.
    private static readonly (int Dx, int Dy)[] Around =
        [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1), (-2, 0), (2, 0), (0, -2), (0, 2)];

    /// <summary>Decodes into <paramref name="values"/> (width × height); null when the data is valid, else the problem.</summary>
    public static string? TryDecode(int width, int height, ReadOnlySpan<byte> data, Span<int> values)
    {
        if (data.IsEmpty)
        {
            return "heatmap v2 data is empty";
        }

        var format = data[0];
        var periodLog2 = format & 3;
        var levels = (format >> 2) & 3;
        if ((format & 0xF0) != 0 || periodLog2 == 3)
        {
            return $"heatmap v2 format byte 0x{format:X2} is not valid (bits 4–7 must be 0, period 1, 2 or 4)";
        }

        var period = 1 << periodLog2;
        var header = 2 + (period * period);
        if (data.Length < header)
        {
            return $"heatmap v2 data of {data.Length} bytes is shorter than its {header}-byte header";
        }

        var gains = data.Slice(1, period * period);
        Span<long> reciprocal = stackalloc long[gains.Length];
        for (var k = 0; k < gains.Length; k++)
        {
            if (gains[k] == 0)
            {
                return $"heatmap v2 gain {k} is 0 (must be 1–255)";
            }

            reciprocal[k] = (1L << 20) / gains[k];
        }

        var count = width * height;
        var normalised = ArrayPool<long>.Shared.Rent(count);
        var residuals = ArrayPool<int>.Shared.Rent(count);
        var decoded = ArrayPool<bool>.Shared.Rent(count);
        try
        {
            Array.Clear(decoded, 0, count);
            var state = new State(width, height, periodLog2, gains, reciprocal, values, normalised, residuals, decoded, data[header..]);
            var problem = Run(ref state, levels);
            if (problem is not null)
            {
                return problem;
            }

            if (data.Length - header > state.Coder.BytesRead)
            {
                return $"heatmap v2 data has {data.Length - header - state.Coder.BytesRead} bytes after the end of its coded values";
            }

            uint h = 0;
            for (var i = 0; i < count; i++)
            {
                h = unchecked((h * 31) + (uint)values[i]);
            }

            var check = (byte)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
            return check == data[header - 1] ? null : $"heatmap v2 check byte is 0x{data[header - 1]:X2}, the decoded values give 0x{check:X2}";
        }
        finally
        {
            ArrayPool<long>.Shared.Return(normalised);
            ArrayPool<int>.Shared.Return(residuals);
            ArrayPool<bool>.Shared.Return(decoded);
        }
    }

    private static string? Run(ref State state, int levels)
    {
        var (w, h) = (state.Width, state.Height);
        var coarse = 1 << levels;
        for (var y = 0; y < h; y += coarse)
        {
            for (var x = 0; x < w; x += coarse)
            {
                var problem = (x >= coarse, y >= coarse) switch
                {
                    (true, true) => state.Next(x, y, coarse, 0,
                        (2 * state.N(x - coarse, y)) + state.N(x, y - coarse) + (x + coarse < w ? state.N(x + coarse, y - coarse) : state.N(x, y - coarse)), 2),
                    (true, false) => state.Next(x, y, coarse, 0, state.N(x - coarse, y), 0),
                    (false, true) => state.Next(x, y, coarse, 0, state.N(x, y - coarse), 0),
                    _ => state.Next(x, y, coarse, 0, 0, 0),
                };
                if (problem is not null)
                {
                    return problem;
                }
            }
        }

        var stage = 1;
        for (var s = coarse / 2; s >= 1; s /= 2)
        {
            for (var y = 0; y < h; y += 2 * s)
            {
                for (var x = s; x < w; x += 2 * s)
                {
                    var left = state.N(x - s, y);
                    var problem = state.Next(x, y, s, stage, left + (x + s < w ? state.N(x + s, y) : left), 1);
                    if (problem is not null)
                    {
                        return problem;
                    }
                }
            }

            for (var y = s; y < h; y += 2 * s)
            {
                for (var x = 0; x < w; x += 2 * s)
                {
                    var up = state.N(x, y - s);
                    var problem = state.Next(x, y, s, stage + 1, up + (y + s < h ? state.N(x, y + s) : up), 1);
                    if (problem is not null)
                    {
                        return problem;
                    }
                }
            }

            for (var y = s; y < h; y += 2 * s)
            {
                for (var x = s; x < w; x += 2 * s)
                {
                    var up = state.N(x, y - s);
                    var left = state.N(x - s, y);
                    var sum = up + left + (y + s < h ? state.N(x, y + s) : up) + (x + s < w ? state.N(x + s, y) : left);
                    var problem = state.Next(x, y, s, stage + 2, sum, 2);
                    if (problem is not null)
                    {
                        return problem;
                    }
                }
            }

            stage += 3;
        }

        return null;
    }

    private ref struct State
    {
        public readonly int Width;
        public readonly int Height;
        public Coder Coder;
        private readonly int _periodLog2;
        private readonly ReadOnlySpan<byte> _gains;
        private readonly ReadOnlySpan<long> _reciprocal;
        private readonly Span<int> _values;
        private readonly Span<long> _normalised;
        private readonly Span<int> _residuals;
        private readonly Span<bool> _decoded;
        private readonly Span<ushort> _probability;
        private readonly Span<byte> _seen;

        public State(int width, int height, int periodLog2, ReadOnlySpan<byte> gains, ReadOnlySpan<long> reciprocal, Span<int> values,
            Span<long> normalised, Span<int> residuals, Span<bool> decoded, ReadOnlySpan<byte> coded)
        {
            (Width, Height, _periodLog2) = (width, height, periodLog2);
            _gains = gains;
            _reciprocal = reciprocal;
            _values = values;
            _normalised = normalised;
            _residuals = residuals;
            _decoded = decoded;
            // zero flags, signs (× 3), magnitude bins (× 16) per context
            _probability = new ushort[Contexts * (1 + 3 + MagnitudeBins)];
            _probability.Fill(32768);
            _seen = new byte[_probability.Length];
            Coder = new Coder(coded);
        }

        public readonly long N(int x, int y) => _normalised[(y * Width) + x];

        /// <summary>Predicts (x, y) from <paramref name="sum"/> of normalised neighbours over 2^shift, decodes q, stores V.</summary>
        public string? Next(int x, int y, int spacing, int stage, long sum, int shift)
        {
            var mask = (1 << _periodLog2) - 1;
            var k = ((y & mask) << _periodLog2) | (x & mask);
            var prediction = ((_gains[k] * sum) + (1L << (19 + shift))) >> (20 + shift);

            int coded = 0, magnitudes = 0, signs = 0;
            foreach (var (dx, dy) in Around)
            {
                var (nx, ny) = (x + (dx * spacing), y + (dy * spacing));
                if (nx < 0 || ny < 0 || nx >= Width || ny >= Height || !_decoded[(ny * Width) + nx])
                {
                    continue;
                }

                var r = _residuals[(ny * Width) + nx];
                coded++;
                magnitudes += Math.Min(Math.Abs(r), 63);
                if (Math.Abs(dx) + Math.Abs(dy) == 1)
                {
                    signs += Math.Sign(r);
                }
            }

            var f = (coded == 0 ? 0 : 4 * magnitudes / coded) + Math.Min(Math.Abs(prediction) / 16, 1000);
            var bucket = f <= 2 ? (int)f : f <= 4 ? 3 : f <= 7 ? 4 : f <= 12 ? 5 : f <= 20 ? 6 : 7;
            var context = (stage * Buckets) + bucket;
            var signContext = signs == 0 ? 0 : signs > 0 ? 1 : 2;

            long q = 0;
            if (Bit(context) == 1)
            {
                var negative = Bit(Contexts + (3 * context) + signContext) == 1;
                long m = 0;
                while (m < MagnitudeBins && Bit((Contexts * 4) + (MagnitudeBins * context) + (int)m) == 1)
                {
                    m++;
                }

                if (m == MagnitudeBins)
                {
                    var ones = 0;
                    while (Coder.Direct() == 1)
                    {
                        if (++ones > MaxEscapeBits)
                        {
                            return $"heatmap v2 escape code at ({x}, {y}) is longer than {MaxEscapeBits} bits";
                        }
                    }

                    long rest = 0;
                    for (var b = 0; b < ones; b++)
                    {
                        rest = (rest << 1) + Coder.Direct();
                    }

                    m = ((1L << ones) | rest) + MagnitudeBins - 1;
                }

                q = negative ? -(m + 1) : m + 1;
            }

            var v = prediction + (QuantStep * q);
            if (v < -MaxValue || v > MaxValue)
            {
                return $"heatmap v2 value at ({x}, {y}) is {v}, outside ±{MaxValue}";
            }

            var i = (y * Width) + x;
            _values[i] = (int)v;
            _normalised[i] = v * _reciprocal[k];
            _residuals[i] = (int)q;
            _decoded[i] = true;
            return null;
        }

        /// <summary>A bit under adaptive model <paramref name="model"/> (probability of 0 in 1/65536; shift 1, 2, 2, 3 ×4, 4 ×8, then 5).</summary>
        private int Bit(int model)
        {
            var bit = Coder.Bit(_probability[model]);
            var seen = _seen[model];
            var shift = seen >= 15 ? 5 : seen >= 7 ? 4 : seen >= 3 ? 3 : seen >= 1 ? 2 : 1;
            _probability[model] = bit == 0
                ? (ushort)(_probability[model] + ((65536 - _probability[model]) >> shift))
                : (ushort)(_probability[model] - (_probability[model] >> shift));
            _seen[model] = (byte)Math.Min(seen + 1, 15);
            return bit;
        }
    }

    /// <summary>The binary range decoder: 32-bit code and range, bytes past the end read as 0.</summary>
    private ref struct Coder
    {
        private readonly ReadOnlySpan<byte> _data;
        private uint _code;
        private uint _range;

        public Coder(ReadOnlySpan<byte> data)
        {
            _data = data;
            _range = uint.MaxValue;
            for (var i = 0; i < 4; i++)
            {
                _code = (_code << 8) | Read();
            }
        }

        /// <summary>Bytes consumed so far (4 to start, one per renormalisation), including zeros read past the end.</summary>
        public int BytesRead { get; private set; }

        public int Bit(ushort probabilityOfZero)
        {
            var bound = (_range >> 16) * probabilityOfZero;
            int bit;
            if (_code < bound)
            {
                _range = bound;
                bit = 0;
            }
            else
            {
                _code -= bound;
                _range -= bound;
                bit = 1;
            }

            Renormalise();
            return bit;
        }

        public int Direct()
        {
            _range >>= 1;
            var bit = _code >= _range ? 1 : 0;
            if (bit == 1)
            {
                _code -= _range;
            }

            Renormalise();
            return bit;
        }

        private void Renormalise()
        {
            while (_range < 1u << 24)
            {
                _range <<= 8;
                _code = (_code << 8) | Read();
            }
        }

        private uint Read()
        {
            var b = BytesRead < _data.Length ? _data[BytesRead] : 0u;
            BytesRead++;
            return b;
        }
    }
}
