using System.Net;
using System.Text.Json;
using Edge.Audit.Drift;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Audit.Tests;

public sealed class DriftTests
{
    [Fact]
    public void Decode_PayloadNamesAnotherKiosk_Rejected()
    {
        var row = DriftIngest.Decode("edge/v1/site-a/kiosk-2/drift", TestEvents.Drift("ok", 1, 0.01).ToByteArray(), 5, out var problem);
        Assert.Null(row);
        Assert.Contains("kiosk-1", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_UnknownLevelOrEventsTopic_Rejected()
    {
        Assert.Null(DriftIngest.Decode("edge/v1/site-a/kiosk-1/drift", TestEvents.Drift("bad", 1, 0.01).ToByteArray(), 5, out _));
        Assert.Null(DriftIngest.Decode("edge/v1/site-a/kiosk-1/events", TestEvents.Drift("ok", 1, 0.01).ToByteArray(), 5, out _));
        Assert.Null(DriftIngest.Decode("edge/v1/site-a/kiosk-1/drift", [0xFF, 0xFF, 0xFF], 5, out _));
    }

    [Fact]
    public void ToDto_AlertOrManyOcclusionDisagreements_Flagged()
    {
        var ok = DriftApi.ToDto(DriftIngest.Decode("edge/v1/site-a/kiosk-1/drift", TestEvents.Drift("ok", 1, 0.02).ToByteArray(), 5, out _)!);
        Assert.False(ok.Flagged);
        var alert = DriftApi.ToDto(DriftIngest.Decode("edge/v1/site-a/kiosk-1/drift", TestEvents.Drift("alert", 1, 0.9).ToByteArray(), 5, out _)!);
        Assert.True(alert.Flagged);
        Assert.Contains("happy", alert.FlagReason, StringComparison.Ordinal);
        var occlusion = DriftApi.ToDto(DriftIngest.Decode("edge/v1/site-a/kiosk-1/drift", TestEvents.Drift("ok", 1, 0.02, 40, 30).ToByteArray(), 5, out _)!);
        Assert.True(occlusion.Flagged);
        Assert.Contains("30/40", occlusion.FlagReason, StringComparison.Ordinal);
        var fewChecks = DriftApi.ToDto(DriftIngest.Decode("edge/v1/site-a/kiosk-1/drift", TestEvents.Drift("ok", 1, 0.02, 4, 4).ToByteArray(), 5, out _)!);
        Assert.False(fewChecks.Flagged);
    }

    [Fact]
    public async Task Drift_IngestedStatuses_ShownPerKioskNewestWinsAndFlagged()
    {
        await using var server = await AuditServer.StartAsync();
        var ingest = server.Services.GetRequiredService<DriftIngest>();
        await ingest.HandleAsync(TestEvents.DriftMessage(TestEvents.Drift("ok", 2_000, 0.02)), CancellationToken.None);
        await ingest.HandleAsync(TestEvents.DriftMessage(TestEvents.Drift("alert", 3_000, 0.8, kiosk: "kiosk-2")), CancellationToken.None);
        await ingest.HandleAsync(TestEvents.DriftMessage(TestEvents.Drift("alert", 1_000, 0.8)), CancellationToken.None); // older: ignored

        using var anonymous = server.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("/api/v1/drift", UriKind.Relative))).StatusCode);
        using var client = server.Client(await server.TokenAsync("supervisor"));
        using var doc = JsonDocument.Parse(await client.GetStringAsync(new Uri("/api/v1/drift", UriKind.Relative)));
        var kiosks = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, kiosks.Count);
        Assert.Equal("kiosk-1", kiosks[0].GetProperty("kioskId").GetString());
        Assert.Equal("ok", kiosks[0].GetProperty("level").GetString());
        Assert.False(kiosks[0].GetProperty("flagged").GetBoolean());
        Assert.Equal("alert", kiosks[1].GetProperty("level").GetString());
        Assert.True(kiosks[1].GetProperty("flagged").GetBoolean());
        Assert.Equal(0.8, kiosks[1].GetProperty("psi").GetProperty("happy").GetDouble(), 6);
    }
}
