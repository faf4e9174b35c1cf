using Edge.Audit.Ingest;
using Edge.Sync.Contract;
using Edge.Testing;
using Google.Protobuf;

namespace Edge.Audit.Tests;

public sealed class IngestDecoderTests
{
    private readonly IngestDecoder _decoder = new(64 * 1024);

    private DecodeResult Decode(FaceEvent e, string? topic = null) => _decoder.Decode(topic ?? TestEvents.Topic(e), e.ToByteArray(), 1);

    [Fact]
    public void Decode_ValidEventWithHeatmapAndCrop_ReturnsEvent()
    {
        var wire = TestEvents.Event(happy: 0.9f, heatmap: true, crop: true);

        var r = Decode(wire);

        Assert.True(r.Accepted, r.Detail);
        Assert.Equal(wire.EventId, r.Event!.EventId);
        Assert.Equal(0.9f, r.Event.Scores[3]);
        Assert.Equal("happy", ExpressionClasses.Names[r.Event.TopClass]);
        Assert.Single(r.Event.Heatmaps);
        Assert.NotNull(r.Event.FaceCropPng);
    }

    [Fact]
    public void Decode_PayloadNamesAnotherKiosk_RejectedAsTopicMismatch()
    {
        var wire = TestEvents.Event(site: "site-a", kiosk: "kiosk-2");

        var r = Decode(wire, "edge/v1/site-a/kiosk-1/events");

        Assert.Equal(RejectReason.TopicMismatch, r.Reason);
        Assert.Contains("site-a/kiosk-2", r.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    public void Decode_UnknownSchemaVersion_Rejected(uint version)
    {
        var wire = TestEvents.Event();
        wire.SchemaVersion = version;

        Assert.Equal(RejectReason.UnknownSchemaVersion, Decode(wire).Reason);
    }

    [Fact]
    public void Decode_PayloadOverLimit_RejectedAsTooLarge()
    {
        var r = _decoder.Decode("edge/v1/a/b/events", new byte[(64 * 1024) + 1], 1);

        Assert.Equal(RejectReason.PayloadTooLarge, r.Reason);
    }

    [Theory]
    [InlineData("edge/v2/a/b/events")]
    [InlineData("edge/v1/a/b/c/events")]
    [InlineData("edge/v1/a/b/other")]
    [InlineData("edge/v1//b/events")]
    [InlineData("edge/v1/a b/k/events")]
    public void Decode_TopicOutsideContract_RejectedAsUnknownTopic(string topic)
    {
        Assert.Equal(RejectReason.UnknownTopic, _decoder.Decode(topic, TestEvents.Event().ToByteArray(), 1).Reason);
    }

    [Fact]
    public void Decode_GarbageBytes_RejectedAsMalformed()
    {
        var r = _decoder.Decode("edge/v1/a/b/events", [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], 1);

        Assert.Equal(RejectReason.Malformed, r.Reason);
    }

    [Fact]
    public void Decode_ScoreNotInUnitRange_RejectedAsInvalidField()
    {
        var nan = TestEvents.Event();
        nan.Scores.Fear = float.NaN;
        var big = TestEvents.Event();
        big.Scores.Sad = 1.5f;

        Assert.Equal(RejectReason.InvalidField, Decode(nan).Reason);
        Assert.Equal(RejectReason.InvalidField, Decode(big).Reason);
    }

    [Fact]
    public void Decode_EventIdNotUuid_RejectedAsInvalidField()
    {
        Assert.Equal(RejectReason.InvalidField, Decode(TestEvents.Event(id: "'; DROP TABLE events; --")).Reason);
    }

    [Fact]
    public void Decode_NulInFreeText_RejectedAsInvalidFieldOnEitherStore()
    {
        var reason = TestEvents.Event(flagged: true);
        reason.FlagReason = "low\0happy";
        var status = new KioskStatus { SchemaVersion = 1, SiteId = "s", KioskId = "k", Online = true, TimeUnixMs = 5, Version = "1.0\0" };

        var r = Decode(reason);
        var s = _decoder.Decode("edge/v1/s/k/status", status.ToByteArray(), 9);

        Assert.Equal(RejectReason.InvalidField, r.Reason);
        Assert.Contains("NUL", r.Detail, StringComparison.Ordinal);
        Assert.Equal(RejectReason.InvalidField, s.Reason);
    }

    [Fact]
    public void Decode_HeatmapDataOfWrongLength_RejectedAsInvalidHeatmap()
    {
        var wire = TestEvents.Event(heatmap: true);
        wire.Heatmaps[0].Width = 32;

        Assert.Equal(RejectReason.InvalidHeatmap, Decode(wire).Reason);
    }

    [Fact]
    public void Decode_HeatmapZipBomb_RejectedWithoutInflatingIt()
    {
        var wire = TestEvents.Event();
        var bomb = HeatmapDecoder.Encode(new sbyte[50_000_000]); // ~50 KB of zlib that inflates to 50 MB
        wire.Heatmaps.Add(new Heatmap { TargetClass = "happy", CodecVersion = 1, Width = 64, Height = 64, Scale = 1, Data = ByteString.CopyFrom(bomb) });

        var before = GC.GetAllocatedBytesForCurrentThread();
        var r = new IngestDecoder(1 << 20).Decode(TestEvents.Topic(wire), wire.ToByteArray(), 1);

        Assert.Equal(RejectReason.InvalidHeatmap, r.Reason);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 5_000_000, "decoder must stop at width*height");
    }

    [Fact]
    public void Decode_CropThatIsNotPng_RejectedAsInvalidFaceCrop()
    {
        var wire = TestEvents.Event();
        wire.FaceCropPng = ByteString.CopyFromUtf8("<script>alert(1)</script>");

        Assert.Equal(RejectReason.InvalidFaceCrop, Decode(wire).Reason);
    }

    [Fact]
    public void Decode_StatusOnStatusTopic_ReturnsStatus()
    {
        var s = new KioskStatus { SchemaVersion = 1, SiteId = "s", KioskId = "k", Online = true, TimeUnixMs = 5, OutboxPending = 3 };

        var r = _decoder.Decode("edge/v1/s/k/status", s.ToByteArray(), 9);

        Assert.True(r.Accepted, r.Detail);
        Assert.Equal(3, r.Status!.OutboxPending);
        Assert.Equal(9, r.Status.ReceivedAtMs);
    }

    [Fact]
    public void HeatmapDecoder_CodecV1RoundTrip_ValuesTimesScale()
    {
        sbyte[] values = [-128, -1, 0, 1, 127, 64];
        var data = HeatmapDecoder.Encode(values);

        var decoded = HeatmapDecoder.Decode(1, 3, 2, 0.5f, data);

        Assert.Equal([-64f, -0.5f, 0f, 0.5f, 63.5f, 32f], decoded!);
    }

    [Fact]
    public void HeatmapDecoder_EmptyDataOrOtherCodec_ReturnsNull()
    {
        Assert.Null(HeatmapDecoder.Decode(1, 64, 64, 1, []));
        Assert.Null(HeatmapDecoder.Decode(3, 1, 1, 1, HeatmapDecoder.Encode([1])));
        Assert.Null(HeatmapDecoder.Decode(2, 1, 1, 1, HeatmapDecoder.Encode([1]))); // v1 bytes are not v2
    }

    public static TheoryData<int> V2Vectors() => [.. Enumerable.Range(0, HeatmapCodecVectors.All.Count)];

    [Theory]
    [MemberData(nameof(V2Vectors))]
    public void HeatmapDecoder_CodecV2Vector_DecodesToTheKioskEncodersValues(int index)
    {
        // The vectors come from Edge.Explain's encoder; this decoder was written separately from the README's byte layout.
        var v = HeatmapCodecVectors.At(index);
        var values = new int[v.Width * v.Height];

        Assert.Null(HeatmapV2Decoder.TryDecode(v.Width, v.Height, v.Data, values));
        Assert.Equal(v.ValuesSha256, HeatmapCodecVectors.Sha256(values));
        Assert.Null(HeatmapDecoder.TryValidate(2, v.Width, v.Height, v.Data));
        Assert.Equal(values.Select(q => q * v.Scale), HeatmapDecoder.Decode(2, v.Width, v.Height, v.Scale, v.Data)!);
    }

    [Fact]
    public void Decode_EventWithCodecV2Heatmap_Accepted()
    {
        var wire = TestEvents.Event(heatmap: true, heatmapCodec: 2);

        var r = Decode(wire);

        Assert.True(r.Accepted, r.Detail);
        var h = Assert.Single(r.Event!.Heatmaps);
        Assert.Equal((2, 64, 64), (h.CodecVersion, h.Width, h.Height));
    }

    /// <summary>Malformed v2 data and words the reason must contain.</summary>
    public static TheoryData<string, string> MalformedV2()
    {
        var good = HeatmapCodecVectors.At(1).Data;
        byte[] With(Action<byte[]> change)
        {
            var b = (byte[])good.Clone();
            change(b);
            return b;
        }

        return new()
        {
            { Convert.ToBase64String([0x0B, .. good[1..]]), "format byte" },
            { Convert.ToBase64String([0x4A, .. good[1..]]), "format byte" },
            { Convert.ToBase64String(With(b => b[5] = 0)), "gain 4 is 0" },
            { Convert.ToBase64String(good[..17]), "shorter than its 18-byte header" },
            { Convert.ToBase64String([.. good, .. new byte[] { 9, 9, 9, 9, 9, 9, 9, 9 }]), "after the end" },
            { Convert.ToBase64String(With(b => b[17] ^= 0x01)), "check byte" },
            { Convert.ToBase64String([0x00, 0x01, 0x00, .. Enumerable.Repeat((byte)0xFF, 40)]), "escape code" },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedV2))]
    public void Decode_MalformedCodecV2Heatmap_RejectedAsInvalidHeatmapWithTheReason(string base64, string reason)
    {
        var wire = TestEvents.Event();
        wire.Heatmaps.Add(new Heatmap { TargetClass = "happy", CodecVersion = 2, Width = 64, Height = 64, Scale = 0.01f, Data = ByteString.FromBase64(base64) });

        var r = Decode(wire);

        Assert.Equal(RejectReason.InvalidHeatmap, r.Reason);
        Assert.Contains(reason, r.Detail, StringComparison.Ordinal);
        Assert.Null(HeatmapDecoder.Decode(2, 64, 64, 0.01f, Convert.FromBase64String(base64)));
    }

    [Fact]
    public void Decode_CodecV2HeatmapOfAnotherSize_Rejected()
    {
        // The real 64×64 vector read as 32×32: fewer values decoded, so the bytes do not end where the coded values do.
        var wire = TestEvents.Event(heatmap: true, heatmapCodec: 2);
        wire.Heatmaps[0].Width = 32;
        wire.Heatmaps[0].Height = 32;

        Assert.Equal(RejectReason.InvalidHeatmap, Decode(wire).Reason);
    }
}
