using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace Edge.Testing;

/// <summary>
/// Heatmap codec v2 vectors (tests/Shared/Fixtures/heatmap-codec-v2.json): data written by the kiosk's encoder from real
/// and synthetic maps, with the SHA-256 of the integer values they decode to. Every v2 decoder (Edge.Explain's and
/// Edge.Audit's, written separately from the README's byte layout) must reproduce them.
/// </summary>
internal static class HeatmapCodecVectors
{
    public sealed record Vector(string Name, int Width, int Height, float Scale, byte[] Data, string ValuesSha256)
    {
        public override string ToString() => Name;
    }

    private static readonly Lazy<IReadOnlyList<Vector>> Loaded = new(Load);

    public static IReadOnlyList<Vector> All => Loaded.Value;

    /// <summary>The vector by its position in the file (for theory data).</summary>
    public static Vector At(int index) => All[index];

    /// <summary>SHA-256 (lower-case hex) of values as int32 little-endian (the byte order of every platform .NET runs Edge on).</summary>
    public static string Sha256(ReadOnlySpan<int> values) => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(values)));

    private static IReadOnlyList<Vector> Load()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "Shared", "Fixtures", "heatmap-codec-v2.json");
            if (!File.Exists(path))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return [.. doc.RootElement.GetProperty("vectors").EnumerateArray().Select(v => new Vector(
                v.GetProperty("name").GetString()!,
                v.GetProperty("width").GetInt32(),
                v.GetProperty("height").GetInt32(),
                BitConverter.UInt32BitsToSingle(Convert.ToUInt32(v.GetProperty("scaleBits").GetString(), 16)),
                Convert.FromBase64String(v.GetProperty("data").GetString()!),
                v.GetProperty("valuesSha256").GetString()!))];
        }

        throw new InvalidOperationException("tests/Shared/Fixtures/heatmap-codec-v2.json not found above " + AppContext.BaseDirectory);
    }
}
