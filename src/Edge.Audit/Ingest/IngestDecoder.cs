using System.Buffers;
using System.IO.Compression;
using Edge.Sync.Contract;
using Google.Protobuf;

namespace Edge.Audit.Ingest;

/// <summary>
/// Turns an MQTT topic and payload into a validated event or status, or a reason it is rejected.
/// Never throws on bad input: every failure is a <see cref="RejectReason"/> with a human-readable detail.
/// </summary>
public sealed class IngestDecoder(int maxPayloadBytes)
{
    public const uint SchemaVersion = 1;
    public const int MaxIdLength = 64;
    public const int MaxTextLength = 256;
    public const int MaxHeatmaps = ExpressionClasses.Count;
    public const int MaxHeatmapSide = 256;
    public const int MaxFaceCropBytes = 512 * 1024;
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public DecodeResult Decode(string topic, ReadOnlySpan<byte> payload, long receivedAtMs)
    {
        if (payload.Length > maxPayloadBytes)
        {
            return DecodeResult.Reject(RejectReason.PayloadTooLarge, $"payload of {payload.Length} bytes exceeds {maxPayloadBytes}");
        }

        if (!TryParseTopic(topic, out var site, out var kiosk, out var kind))
        {
            return DecodeResult.Reject(RejectReason.UnknownTopic, $"topic '{Truncate(topic)}' is not edge/v1/{{site}}/{{kiosk}}/events|status");
        }

        try
        {
            return kind == TopicKind.Events
                ? DecodeEvent(site, kiosk, payload, receivedAtMs)
                : DecodeStatus(site, kiosk, payload, receivedAtMs);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return DecodeResult.Reject(RejectReason.Malformed, "not a valid protobuf message: " + ex.Message);
        }
    }

    private static DecodeResult DecodeEvent(string site, string kiosk, ReadOnlySpan<byte> payload, long receivedAtMs)
    {
        var e = FaceEvent.Parser.ParseFrom(payload);
        if (e.SchemaVersion != SchemaVersion)
        {
            return DecodeResult.Reject(RejectReason.UnknownSchemaVersion, $"schema_version {e.SchemaVersion}, expected {SchemaVersion}");
        }

        if (e.SiteId != site || e.KioskId != kiosk)
        {
            return DecodeResult.Reject(RejectReason.TopicMismatch,
                $"payload names {Truncate(e.SiteId)}/{Truncate(e.KioskId)} but was published under {site}/{kiosk}");
        }

        if (!Guid.TryParseExact(e.EventId, "D", out var id) || id == Guid.Empty)
        {
            return DecodeResult.Reject(RejectReason.InvalidField, $"event_id '{Truncate(e.EventId)}' is not a UUID");
        }

        if (e.CaptureTimeUnixMs <= 0 || e.CaptureTimeUnixMs > 253_402_300_799_000)
        {
            return DecodeResult.Reject(RejectReason.InvalidField, $"capture_time_unix_ms {e.CaptureTimeUnixMs} is out of range");
        }

        if (!IsStorableText(e.ModelId) || !IsStorableText(e.ModelSha256) || !IsStorableText(e.FlagReason))
        {
            return DecodeResult.Reject(RejectReason.InvalidField, "model_id, model_sha256 or flag_reason is too long or holds a NUL character");
        }

        if (e.Scores is null)
        {
            return DecodeResult.Reject(RejectReason.InvalidField, "scores are missing");
        }

        float[] scores = [e.Scores.Angry, e.Scores.Disgust, e.Scores.Fear, e.Scores.Happy, e.Scores.Sad, e.Scores.Surprise, e.Scores.Neutral];
        for (var i = 0; i < scores.Length; i++)
        {
            if (!float.IsFinite(scores[i]) || scores[i] < 0f || scores[i] > 1f)
            {
                return DecodeResult.Reject(RejectReason.InvalidField, $"score {ExpressionClasses.Names[i]} = {scores[i]} is not in [0, 1]");
            }
        }

        var box = e.FaceBox ?? new Box();
        if (!float.IsFinite(box.X1) || !float.IsFinite(box.Y1) || !float.IsFinite(box.X2) || !float.IsFinite(box.Y2)
            || !float.IsFinite(e.DetectorScore))
        {
            return DecodeResult.Reject(RejectReason.InvalidField, "face_box or detector_score is not finite");
        }

        if (e.FrameWidth > 65_535 || e.FrameHeight > 65_535)
        {
            return DecodeResult.Reject(RejectReason.InvalidField, "frame size is out of range");
        }

        if (e.Heatmaps.Count > MaxHeatmaps)
        {
            return DecodeResult.Reject(RejectReason.InvalidHeatmap, $"{e.Heatmaps.Count} heatmaps, at most {MaxHeatmaps}");
        }

        var heatmaps = new List<HeatmapRecord>(e.Heatmaps.Count);
        foreach (var h in e.Heatmaps)
        {
            var problem = CheckHeatmap(h);
            if (problem is not null)
            {
                return DecodeResult.Reject(RejectReason.InvalidHeatmap, problem);
            }

            if (heatmaps.Exists(x => x.TargetClass == h.TargetClass))
            {
                return DecodeResult.Reject(RejectReason.InvalidHeatmap, $"two heatmaps for class '{h.TargetClass}'");
            }

            heatmaps.Add(new HeatmapRecord(h.TargetClass, (int)h.CodecVersion, (int)h.Width, (int)h.Height, h.Scale, h.Data.ToByteArray()));
        }

        byte[]? crop = null;
        if (!e.FaceCropPng.IsEmpty)
        {
            if (e.FaceCropPng.Length > MaxFaceCropBytes || !e.FaceCropPng.Span.StartsWith(PngSignature))
            {
                return DecodeResult.Reject(RejectReason.InvalidFaceCrop, $"face_crop_png ({e.FaceCropPng.Length} bytes) is not a PNG of at most {MaxFaceCropBytes} bytes");
            }

            crop = e.FaceCropPng.ToByteArray();
        }

        var ev = new IncomingEvent(
            id.ToString("D"), site, kiosk, e.CaptureTimeUnixMs, receivedAtMs, e.ModelId, e.ModelSha256, scores,
            e.Flagged, e.FlagReason, box.X1, box.Y1, box.X2, box.Y2, e.DetectorScore, (int)e.FrameWidth, (int)e.FrameHeight,
            heatmaps, crop);
        return new DecodeResult(ev, null, null, null);
    }

    /// <summary>
    /// Free text both stores keep alike: at most <see cref="MaxTextLength"/> characters and no NUL (PostgreSQL's text
    /// refuses U+0000, so such an event would be dropped there and stored by SQLite).
    /// </summary>
    private static bool IsStorableText(string s) => s.Length <= MaxTextLength && !s.Contains('\0', StringComparison.Ordinal);

    private static string? CheckHeatmap(Heatmap h)
    {
        if (ExpressionClasses.IndexOf(h.TargetClass) < 0)
        {
            return $"heatmap target_class '{Truncate(h.TargetClass)}' is not an expression";
        }

        if (h.Data.IsEmpty)
        {
            return null; // "no heatmap" for this class: allowed, shown as such.
        }

        if (h.Width == 0 || h.Height == 0 || h.Width > MaxHeatmapSide || h.Height > MaxHeatmapSide)
        {
            return $"heatmap size {h.Width}x{h.Height} is not within 1..{MaxHeatmapSide}";
        }

        if (!float.IsFinite(h.Scale) || h.Scale < 0f)
        {
            return $"heatmap scale {h.Scale} is not a finite non-negative number";
        }

        if (h.CodecVersion is not (HeatmapDecoder.CodecVersion1 or HeatmapDecoder.CodecVersion2))
        {
            return $"heatmap codec_version {h.CodecVersion} is unknown (expected {HeatmapDecoder.CodecVersion1} or {HeatmapDecoder.CodecVersion2})";
        }

        return HeatmapDecoder.TryValidate((int)h.CodecVersion, (int)h.Width, (int)h.Height, h.Data.Span);
    }

    private static DecodeResult DecodeStatus(string site, string kiosk, ReadOnlySpan<byte> payload, long receivedAtMs)
    {
        if (payload.IsEmpty)
        {
            // A cleared retained status: nothing to record.
            return DecodeResult.Reject(RejectReason.Malformed, "empty status payload (cleared retained message)");
        }

        var s = KioskStatus.Parser.ParseFrom(payload);
        if (s.SchemaVersion != SchemaVersion)
        {
            return DecodeResult.Reject(RejectReason.UnknownSchemaVersion, $"schema_version {s.SchemaVersion}, expected {SchemaVersion}");
        }

        if (s.SiteId != site || s.KioskId != kiosk)
        {
            return DecodeResult.Reject(RejectReason.TopicMismatch,
                $"status names {Truncate(s.SiteId)}/{Truncate(s.KioskId)} but was published under {site}/{kiosk}");
        }

        if (s.OutboxPending < 0 || !double.IsFinite(s.OldestPendingAgeSeconds) || s.OldestPendingAgeSeconds < 0
            || !IsStorableText(s.ModelId) || !IsStorableText(s.Version) || s.TimeUnixMs < 0)
        {
            return DecodeResult.Reject(RejectReason.InvalidField, "status fields out of range");
        }

        var status = new IncomingStatus(site, kiosk, s.Online, s.TimeUnixMs, receivedAtMs, s.OutboxPending,
            s.OldestPendingAgeSeconds, s.ModelId, s.Version);
        return new DecodeResult(null, status, null, null);
    }

    private enum TopicKind
    {
        Events,
        Status,
    }

    private static bool TryParseTopic(string topic, out string site, out string kiosk, out TopicKind kind)
    {
        site = kiosk = string.Empty;
        kind = TopicKind.Events;
        var parts = topic.Split('/');
        if (parts.Length != 5 || parts[0] != "edge" || parts[1] != "v1" || !IsId(parts[2]) || !IsId(parts[3]))
        {
            return false;
        }

        switch (parts[4])
        {
            case "events":
                kind = TopicKind.Events;
                break;
            case "status":
                kind = TopicKind.Status;
                break;
            default:
                return false;
        }

        site = parts[2];
        kiosk = parts[3];
        return true;
    }

    private static readonly SearchValues<char> IdChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

    /// <summary>Site and kiosk ids: 1..64 of [A-Za-z0-9-_.].</summary>
    public static bool IsId(string s) => s.Length is > 0 and <= MaxIdLength && !s.AsSpan().ContainsAnyExcept(IdChars);

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}

/// <summary>
/// The heatmap codecs of Edge.Explain's HeatmapCodec (byte layouts in src/Edge.Explain/README.md). Empty data means
/// "no heatmap". v1: data is a zlib stream of width × height signed 8-bit values, row-major; relevance = value × scale.
/// v2 (what kiosks send since v2): integer values coded coarse-to-fine with per-phase gains and an adaptive range coder
/// (<see cref="HeatmapV2Decoder"/>); relevance = value × scale.
/// </summary>
public static class HeatmapDecoder
{
    public const int CodecVersion1 = 1;
    public const int CodecVersion2 = 2;

    /// <summary>Null when <paramref name="data"/> is a valid heatmap of codec <paramref name="codecVersion"/> and this size, else the problem.</summary>
    public static string? TryValidate(int codecVersion, int width, int height, ReadOnlySpan<byte> data)
    {
        if (width <= 0 || height <= 0 || width * height > 1 << 20)
        {
            return $"heatmap size {width}x{height} is out of range";
        }

        switch (codecVersion)
        {
            case CodecVersion1:
                return TryValidateV1(width, height, data);
            case CodecVersion2:
                var values = ArrayPool<int>.Shared.Rent(width * height);
                try
                {
                    return HeatmapV2Decoder.TryDecode(width, height, data, values);
                }
                finally
                {
                    ArrayPool<int>.Shared.Return(values);
                }

            default:
                return $"heatmap codec_version {codecVersion} is unknown";
        }
    }

    /// <summary>Returns null when <paramref name="data"/> inflates to exactly width × height bytes, else the problem.</summary>
    private static string? TryValidateV1(int width, int height, ReadOnlySpan<byte> data)
    {
        var expected = width * height;
        var buffer = ArrayPool<byte>.Shared.Rent(expected + 1);
        try
        {
            var n = Inflate(data, buffer.AsSpan(0, expected + 1));
            return n == expected ? null : $"heatmap data inflates to {n} bytes, expected {expected}";
        }
        catch (InvalidDataException ex)
        {
            return "heatmap data is not a zlib stream: " + ex.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Decodes to relevance values, or null for an empty or undecodable heatmap.</summary>
    public static float[]? Decode(int codecVersion, int width, int height, float scale, ReadOnlySpan<byte> data)
    {
        if (codecVersion is not (CodecVersion1 or CodecVersion2) || data.IsEmpty || width <= 0 || height <= 0 || width * height > 1 << 20)
        {
            return null;
        }

        var expected = width * height;
        if (codecVersion == CodecVersion2)
        {
            var integers = new int[expected];
            if (HeatmapV2Decoder.TryDecode(width, height, data, integers) is not null)
            {
                return null;
            }

            var relevance = new float[expected];
            for (var i = 0; i < expected; i++)
            {
                relevance[i] = integers[i] * scale;
            }

            return relevance;
        }

        var raw = new byte[expected + 1];
        try
        {
            if (Inflate(data, raw) != expected)
            {
                return null;
            }
        }
        catch (InvalidDataException)
        {
            return null;
        }

        var values = new float[expected];
        for (var i = 0; i < expected; i++)
        {
            values[i] = (sbyte)raw[i] * scale;
        }

        return values;
    }

    /// <summary>Encodes relevance values with codec v1 (used by tests, the benchmark and the demo publisher).</summary>
    public static byte[] Encode(ReadOnlySpan<sbyte> values)
    {
        using var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        }

        return output.ToArray();
    }

    /// <summary>Inflates into <paramref name="destination"/>; stops when it is full (so a zip bomb costs at most its size).</summary>
    private static int Inflate(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        unsafe
        {
            fixed (byte* p = data)
            {
                using var input = new UnmanagedMemoryStream(p, data.Length);
                using var z = new ZLibStream(input, CompressionMode.Decompress);
                var total = 0;
                while (total < destination.Length)
                {
                    var n = z.Read(destination[total..]);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }

                return total;
            }
        }
    }
}
