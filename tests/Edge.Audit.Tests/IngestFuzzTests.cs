using System.Text.Json;
using Edge.Audit.Ingest;
using Edge.Audit.Storage;
using Edge.Sync.Contract;
using Google.Protobuf;

namespace Edge.Audit.Tests;

public sealed class IngestFuzzTests
{
    [Fact]
    public async Task SubmitAsync_ThousandsOfRandomAndMutatedPayloads_NoCrashEachCountedStoredDataUnchanged()
    {
        await using var server = await AuditServer.StartAsync();
        // Half the heatmaps are codec v2 (real kiosk bytes), so flips, cuts and splices reach the v2 decoder too.
        var seeds = Enumerable.Range(0, 20).Select(i => TestEvents.Event(kiosk: "kiosk-" + (i % 4), at: TestEvents.T0.AddMinutes(i), heatmap: i % 2 == 0, crop: i % 3 == 0, flagged: i % 3 == 0, heatmapCodec: i % 4 == 0 ? 2 : 1)).ToArray();
        await server.IngestAsync(seeds);
        var before = await SnapshotAsync(server.Store);
        var statsBefore = server.Pipeline.Stats.Snapshot();
        var rng = new Random(20261121);
        var seedBytes = seeds.Select(s => s.ToByteArray()).ToArray();

        var submitted = 0;
        var accepted = 0;
        for (var i = 0; i < 6000; i++)
        {
            var seed = rng.Next(seeds.Length);
            var (topic, payload) = (i % 6) switch
            {
                0 => (RandomTopic(rng, seeds[seed]), RandomBytes(rng, rng.Next(0, 3000))),
                1 => (TestEvents.Topic(seeds[seed]), FlipBits(rng, seedBytes[seed])),
                2 => (TestEvents.Topic(seeds[seed]), seedBytes[seed][..rng.Next(seedBytes[seed].Length)]),
                3 => (TestEvents.Topic(seeds[seed]), Splice(rng, seedBytes[seed], seedBytes[rng.Next(seeds.Length)])),
                4 => StructuredMutation(rng, seeds[seed]),
                _ => (RandomTopic(rng, seeds[seed]), InsertGarbage(rng, seedBytes[seed])),
            };

            var r = await server.Pipeline.SubmitAsync(topic, payload, CancellationToken.None);
            submitted++;
            if (r.Accepted)
            {
                accepted++;
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(r.Detail), $"reason {r.Reason} without detail");
            }
        }

        await server.Pipeline.WaitUntilDrainedAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
        var stats = server.Pipeline.Stats.Snapshot();
        var rejectedByDecoder = stats.Rejected.Where(kv => kv.Key != nameof(RejectReason.Duplicate)).Sum(kv => kv.Value)
            - statsBefore.Rejected.Where(kv => kv.Key != nameof(RejectReason.Duplicate)).Sum(kv => kv.Value);
        var duplicates = stats.Rejected[nameof(RejectReason.Duplicate)] - statsBefore.Rejected[nameof(RejectReason.Duplicate)];
        var after = await SnapshotAsync(server.Store);

        Assert.Equal(submitted, stats.Received - statsBefore.Received);
        Assert.Equal(submitted, accepted + rejectedByDecoder);
        Assert.True(rejectedByDecoder > 5000, $"only {rejectedByDecoder} of {submitted} rejected");
        Assert.Equal(0, stats.StoreFailures);
        foreach (var (id, row) in before)
        {
            Assert.Equal(row, after[id]); // every seeded event, heatmap and crop exactly as it was
        }

        Assert.Equal(before.Count + (accepted - duplicates - (stats.Statuses - statsBefore.Statuses)), after.Count);

        // and the service still ingests a good event
        var fresh = TestEvents.Event(kiosk: "kiosk-9");
        await server.IngestAsync(fresh);
        Assert.NotNull(await server.Store.GetEventAsync(fresh.EventId, CancellationToken.None));
    }

    private static async Task<Dictionary<string, string>> SnapshotAsync(IAuditStore store)
    {
        var rows = await store.ListEventsAsync(new EventQuery { Limit = 100_000 }, CancellationToken.None);
        var result = new Dictionary<string, string>();
        foreach (var r in rows)
        {
            var d = await store.GetEventAsync(r.EventId, CancellationToken.None);
            result[r.EventId] = JsonSerializer.Serialize(new
            {
                r.SiteId, r.KioskId, r.CapturedAtMs, r.Angry, r.Disgust, r.Fear, r.Happy, r.Sad, r.Surprise, r.Neutral, r.Flagged, r.FlagReason,
                r.ReviewState, r.BoxX1, r.DetectorScore,
                Heatmaps = d!.Heatmaps.Select(h => h.TargetClass + Convert.ToHexString(h.Data)).ToArray(),
                Crop = d.FaceCropPng is null ? null : Convert.ToHexString(d.FaceCropPng),
            });
        }

        return result;
    }

    private static string RandomTopic(Random rng, FaceEvent e) => rng.Next(4) switch
    {
        0 => TestEvents.Topic(e),
        1 => $"edge/v1/{e.SiteId}/{e.KioskId}/status",
        2 => $"edge/v1/{e.SiteId}/kiosk-{rng.Next(9)}/events",
        _ => "edge/v1/" + Convert.ToBase64String(RandomBytes(rng, rng.Next(1, 20))) + "/events",
    };

    /// <summary>A real v2 heatmap with a few bytes changed, cut short or extended, or read at another size.</summary>
    private static Heatmap MutatedV2(Random rng)
    {
        var h = TestEvents.HeatmapV2("happy");
        var data = h.Data.ToByteArray();
        data = rng.Next(4) switch
        {
            0 => FlipBits(rng, data),
            1 => data[..rng.Next(data.Length)],
            2 => [.. data, .. RandomBytes(rng, rng.Next(1, 32))],
            _ => data,
        };
        h.Data = ByteString.CopyFrom(data);
        if (rng.Next(4) == 0)
        {
            h.Width = (uint)rng.Next(1, 128);
        }

        return h;
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    private static byte[] FlipBits(Random rng, byte[] source)
    {
        var b = (byte[])source.Clone();
        for (var k = rng.Next(1, 12); k > 0; k--)
        {
            b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
        }

        return b;
    }

    private static byte[] Splice(Random rng, byte[] a, byte[] b) => [.. a[..rng.Next(a.Length)], .. b[rng.Next(b.Length)..]];

    private static byte[] InsertGarbage(Random rng, byte[] source)
    {
        var at = rng.Next(source.Length);
        return [.. source[..at], .. RandomBytes(rng, rng.Next(1, 64)), .. source[at..]];
    }

    private static (string Topic, byte[] Payload) StructuredMutation(Random rng, FaceEvent seed)
    {
        var e = seed.Clone();
        var topic = TestEvents.Topic(e);
        switch (rng.Next(12))
        {
            case 0: e.SchemaVersion = (uint)rng.Next(2, 1000); break;
            case 1: e.KioskId = "kiosk-x"; break; // publishing under another kiosk's topic
            case 2: e.Scores.Happy = rng.Next(2) == 0 ? float.PositiveInfinity : -0.5f; break;
            case 3: e.EventId = Convert.ToBase64String(RandomBytes(rng, 12)); break;
            case 4: e.Heatmaps.Add(new Heatmap { TargetClass = "happy", CodecVersion = 1, Width = 64, Height = 64, Scale = 1, Data = ByteString.CopyFrom(RandomBytes(rng, 100)) }); break;
            case 5: e.FaceCropPng = ByteString.CopyFrom(RandomBytes(rng, 200)); break;
            case 6: e.CaptureTimeUnixMs = -rng.Next(); break;
            case 7: e.ModelId = new string('m', 10_000); break;
            case 8: e.Heatmaps.Add(new Heatmap { TargetClass = "'; DROP TABLE heatmaps; --", CodecVersion = 1 }); break;
            case 9: e.Heatmaps.Add(new Heatmap { TargetClass = "happy", CodecVersion = 2, Width = (uint)rng.Next(1, 300), Height = 64, Scale = 1, Data = ByteString.CopyFrom(RandomBytes(rng, rng.Next(0, 600))) }); break;
            case 10: e.Heatmaps.Add(MutatedV2(rng)); break;
            default: e.FaceBox = new Box { X1 = float.NaN }; break;
        }

        return (topic, e.ToByteArray());
    }
}
