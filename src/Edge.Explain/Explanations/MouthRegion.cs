namespace Edge.Explain.Explanations;

/// <summary>
/// The mouth region of a face crop's relevance map, for the papers' sanity check that "happy" is explained by the
/// mouth: a box half the map wide and 29 % of it tall (15 % of the area), centred on the detector's mouth keypoint
/// and kept inside the map.
/// </summary>
public readonly record struct MouthRegion(int X0, int Y0, int X1, int Y1)
{
    public const double WidthShare = 0.50;

    public const double HeightShare = 0.29;

    /// <summary>The region around <paramref name="mouth"/> (crop pixels, as <c>FaceCrop.ToCrop</c> gives) in a <paramref name="size"/>² map.</summary>
    public static MouthRegion Around(FacePoint mouth, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 4);
        if (!float.IsFinite(mouth.X) || !float.IsFinite(mouth.Y))
        {
            throw new ArgumentException($"mouth point ({mouth.X}, {mouth.Y}) is not finite", nameof(mouth));
        }

        var w = (int)Math.Round(WidthShare * size);
        var h = (int)Math.Round(HeightShare * size);
        var x0 = Math.Clamp((int)Math.Round(mouth.X - (w / 2.0)), 0, size - w);
        var y0 = Math.Clamp((int)Math.Round(mouth.Y - (h / 2.0)), 0, size - h);
        return new MouthRegion(x0, y0, x0 + w, y0 + h);
    }

    /// <summary>Whether <paramref name="p"/> (crop pixels) lies inside the region.</summary>
    public bool Contains(FacePoint p) => p.X >= X0 && p.X < X1 && p.Y >= Y0 && p.Y < Y1;

    /// <summary>
    /// The box of this region's size, anywhere in the map, that holds the most positive relevance (the first in
    /// row-major order on ties): where the map puts its weight, whatever the keypoint says.
    /// </summary>
    public MouthRegion Densest(ReadOnlySpan<float> map, int size)
    {
        CheckSize(map, size);
        var (w, h) = (X1 - X0, Y1 - Y0);
        var integral = new double[(size + 1) * (size + 1)];
        for (var y = 0; y < size; y++)
        {
            double row = 0;
            for (var x = 0; x < size; x++)
            {
                row += Math.Max(0, map[(y * size) + x]);
                integral[((y + 1) * (size + 1)) + x + 1] = integral[(y * (size + 1)) + x + 1] + row;
            }
        }

        var (best, bx, by) = (-1.0, 0, 0);
        for (var y = 0; y + h <= size; y++)
        {
            for (var x = 0; x + w <= size; x++)
            {
                var sum = integral[((y + h) * (size + 1)) + x + w] - integral[(y * (size + 1)) + x + w] - integral[((y + h) * (size + 1)) + x] + integral[(y * (size + 1)) + x];
                if (sum > best + 1e-12)
                {
                    (best, bx, by) = (sum, x, y);
                }
            }
        }

        return new MouthRegion(bx, by, bx + w, by + h);
    }

    /// <summary>The region's share of the map's area.</summary>
    public double AreaShare(int size) => (X1 - X0) * (Y1 - Y0) / (double)(size * size);

    /// <summary>The share of the map's positive relevance inside the region (0 for a map with none).</summary>
    public double PositiveShare(ReadOnlySpan<float> map, int size)
    {
        CheckSize(map, size);
        double inside = 0, all = 0;
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var v = Math.Max(0, map[(y * size) + x]);
                all += v;
                if (y >= Y0 && y < Y1 && x >= X0 && x < X1)
                {
                    inside += v;
                }
            }
        }

        return all > 0 ? inside / all : 0;
    }

    private static void CheckSize(ReadOnlySpan<float> map, int size)
    {
        if (map.Length != size * size)
        {
            throw new ArgumentException($"map has {map.Length} values, {size}×{size} needs {size * size}", nameof(map));
        }
    }
}
