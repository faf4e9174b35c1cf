using System.Numerics.Tensors;

namespace Edge.Explain.Faces;

/// <summary>
/// Pads an RGB24 frame to a centred square and resizes it bilinearly (half-pixel centres) into an NHWC float
/// tensor of <c>size × size × 3</c> normalised to <c>x / 127.5 − 1</c>; padding is black (−1).
/// Per-column and per-row taps are computed once per frame size, so a frame costs one gather pass and one
/// vectorised normalisation, with no allocation.
/// </summary>
public sealed class LetterboxResizer
{
    private readonly int _size;
    private readonly int[] _x0;
    private readonly int[] _x1;
    private readonly float[] _wx0;
    private readonly float[] _wx1;
    private readonly int[] _y0;
    private readonly int[] _y1;
    private readonly float[] _wy0;
    private readonly float[] _wy1;
    private int _width = -1;
    private int _height = -1;

    public LetterboxResizer(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _size = size;
        _x0 = new int[size];
        _x1 = new int[size];
        _wx0 = new float[size];
        _wx1 = new float[size];
        _y0 = new int[size];
        _y1 = new int[size];
        _wy0 = new float[size];
        _wy1 = new float[size];
    }

    /// <summary>Source pixels per input pixel for the last frame size.</summary>
    public float Scale { get; private set; }

    /// <summary>Padding added left of the frame, in source pixels.</summary>
    public float PadX { get; private set; }

    /// <summary>Padding added above the frame, in source pixels.</summary>
    public float PadY { get; private set; }

    public void Resize(ReadOnlySpan<byte> rgb24, int width, int height, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (rgb24.Length < width * height * 3)
        {
            throw new ArgumentException($"frame has {rgb24.Length} bytes; {width}×{height} RGB24 needs {width * height * 3}", nameof(rgb24));
        }

        if (destination.Length != _size * _size * 3)
        {
            throw new ArgumentException($"destination must hold {_size}×{_size}×3 floats", nameof(destination));
        }

        if (width != _width || height != _height)
        {
            Prepare(width, height);
        }

        var stride = width * 3;
        var o = 0;
        for (var oy = 0; oy < _size; oy++)
        {
            var wy0 = _wy0[oy];
            var wy1 = _wy1[oy];
            var r0 = _y0[oy] * stride;
            var r1 = _y1[oy] * stride;
            for (var ox = 0; ox < _size; ox++, o += 3)
            {
                var a = r0 + _x0[ox];
                var b = r0 + _x1[ox];
                var c = r1 + _x0[ox];
                var d = r1 + _x1[ox];
                var w00 = wy0 * _wx0[ox];
                var w01 = wy0 * _wx1[ox];
                var w10 = wy1 * _wx0[ox];
                var w11 = wy1 * _wx1[ox];
                destination[o] = (w00 * rgb24[a]) + (w01 * rgb24[b]) + (w10 * rgb24[c]) + (w11 * rgb24[d]);
                destination[o + 1] = (w00 * rgb24[a + 1]) + (w01 * rgb24[b + 1]) + (w10 * rgb24[c + 1]) + (w11 * rgb24[d + 1]);
                destination[o + 2] = (w00 * rgb24[a + 2]) + (w01 * rgb24[b + 2]) + (w10 * rgb24[c + 2]) + (w11 * rgb24[d + 2]);
            }
        }

        TensorPrimitives.Multiply(destination, 1f / 127.5f, destination);
        TensorPrimitives.Add(destination, -1f, destination);
    }

    /// <summary>Maps a point from detector-input pixels to source-frame pixels.</summary>
    public (float X, float Y) ToSource(float x, float y) => ((x * Scale) - PadX, (y * Scale) - PadY);

    private void Prepare(int width, int height)
    {
        var side = Math.Max(width, height);
        Scale = (float)side / _size;
        PadX = (side - width) / 2f;
        PadY = (side - height) / 2f;
        Taps(width, PadX, _x0, _x1, _wx0, _wx1, 3);
        Taps(height, PadY, _y0, _y1, _wy0, _wy1, 1);
        _width = width;
        _height = height;
    }

    /// <summary>Two taps per output index; a tap outside the frame gets weight 0 (black padding) and a safe index.</summary>
    private void Taps(int extent, float pad, int[] i0, int[] i1, float[] w0, float[] w1, int step)
    {
        for (var o = 0; o < _size; o++)
        {
            var s = ((o + 0.5f) * Scale) - 0.5f - pad;
            var f = MathF.Floor(s);
            var lo = (int)f;
            var frac = s - f;
            var hi = lo + 1;
            w0[o] = lo >= 0 && lo < extent ? 1f - frac : 0f;
            w1[o] = hi >= 0 && hi < extent ? frac : 0f;
            i0[o] = Math.Clamp(lo, 0, extent - 1) * step;
            i1[o] = Math.Clamp(hi, 0, extent - 1) * step;
        }
    }
}

/// <summary>
/// The emotion model's input from a face box: a square of side <c>margin × max(box width, height)</c> centred on
/// the box, sampled bilinearly with TensorFlow <c>crop_and_resize</c> semantics (normalised box corners scaled by
/// size − 1, zero outside the frame), converted to grey (0.2989 R + 0.587 G + 0.114 B) and fed as
/// <c>(gray / 255 − 0.5) × 2</c>.
/// </summary>
public static class FaceCrop
{
    public const int Size = 64;

    /// <summary>The square crop, in source pixels, that <see cref="Extract"/> samples for a face box.</summary>
    public static FaceBox SquareAround(FaceBox box, float margin)
    {
        var side = margin * MathF.Max(box.Width, box.Height);
        var cx = (box.X1 + box.X2) * 0.5f;
        var cy = (box.Y1 + box.Y2) * 0.5f;
        return new FaceBox(cx - (side / 2f), cy - (side / 2f), cx + (side / 2f), cy + (side / 2f));
    }

    /// <summary>Where a source-pixel point lands in the <see cref="Size"/>×<see cref="Size"/> crop of <paramref name="box"/> (crop pixels, to within one).</summary>
    public static FacePoint ToCrop(FacePoint point, FaceBox box, float margin)
    {
        var crop = SquareAround(box, margin);
        return new FacePoint((point.X - crop.X1) / crop.Width * Size, (point.Y - crop.Y1) / crop.Height * Size);
    }

    /// <summary>Writes the 64×64 normalised grey crop (NHWC, one channel) for <paramref name="box"/> into <paramref name="destination"/>.</summary>
    public static void Extract(ReadOnlySpan<byte> rgb24, int width, int height, FaceBox box, float margin, Span<float> destination)
    {
        if (destination.Length != Size * Size)
        {
            throw new ArgumentException($"destination must hold {Size}×{Size} floats", nameof(destination));
        }

        if (rgb24.Length < width * height * 3)
        {
            throw new ArgumentException($"frame has {rgb24.Length} bytes; {width}×{height} RGB24 needs {width * height * 3}", nameof(rgb24));
        }

        var crop = SquareAround(box, margin);

        // crop_and_resize: in = y1n·(H−1) + i·(y2n − y1n)·(H−1)/(size − 1), with yn = y / H.
        var y1 = crop.Y1 / height * (height - 1);
        var yStep = (crop.Y2 - crop.Y1) / height * (height - 1) / (Size - 1);
        var x1 = crop.X1 / width * (width - 1);
        var xStep = (crop.X2 - crop.X1) / width * (width - 1) / (Size - 1);
        var stride = width * 3;
        for (var oy = 0; oy < Size; oy++)
        {
            var sy = y1 + (oy * yStep);
            var row = destination.Slice(oy * Size, Size);
            if (sy < 0f || sy > height - 1)
            {
                row.Clear();
                continue;
            }

            var ty = (int)MathF.Floor(sy);
            var by = Math.Min(ty + 1, height - 1);
            var fy = sy - ty;
            for (var ox = 0; ox < Size; ox++)
            {
                var sx = x1 + (ox * xStep);
                if (sx < 0f || sx > width - 1)
                {
                    row[ox] = 0f;
                    continue;
                }

                var lx = (int)MathF.Floor(sx);
                var rx = Math.Min(lx + 1, width - 1);
                var fx = sx - lx;
                var top = Lerp(Grey(rgb24, (ty * stride) + (lx * 3)), Grey(rgb24, (ty * stride) + (rx * 3)), fx);
                var bottom = Lerp(Grey(rgb24, (by * stride) + (lx * 3)), Grey(rgb24, (by * stride) + (rx * 3)), fx);
                row[ox] = Lerp(top, bottom, fy);
            }
        }

        // (g / 255 − 0.5) × 2 = g · 2/255 − 1
        TensorPrimitives.Multiply(destination, 2f / 255f, destination);
        TensorPrimitives.Add(destination, -1f, destination);
    }

    private static float Grey(ReadOnlySpan<byte> rgb, int i) => (0.2989f * rgb[i]) + (0.587f * rgb[i + 1]) + (0.114f * rgb[i + 2]);

    private static float Lerp(float a, float b, float t) => a + ((b - a) * t);
}
