using System.Diagnostics;
using Edge.Audit.Ingest;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Edge.Audit.Tests;

/// <summary>
/// Acknowledging after the commit must not turn ingest into one commit per message: each time the transport waits for
/// the writer, the writer commits everything the transport has read, up to the receive maximum per commit.
/// N comes from EDGE_AUDIT_BURST_EVENTS (default 3000).
/// </summary>
public sealed class MqttIngestThroughputTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MqttIngest_KioskPublishesABurst_ManyEventsPerCommit()
    {
        var n = int.TryParse(Environment.GetEnvironmentVariable("EDGE_AUDIT_BURST_EVENTS"), out var count) && count >= 100 ? count : 3000;
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120 + (n / 500)));
        await using var server = await AuditServer.StartAsync(null,
            "--Audit:Mqtt:Enabled=true", $"--Audit:Mqtt:Host={broker.Host}", $"--Audit:Mqtt:Port={broker.Port}",
            $"--Audit:Mqtt:Username={broker.Username}", $"--Audit:Mqtt:Password={broker.Password}", "--Audit:Mqtt:ClientId=audit-burst");
        await server.Services.GetRequiredService<MqttIngestService>().Subscribed.WaitAsync(cts.Token);
        await using var kiosk = new MosquittoTransport(new MqttBrokerOptions
        {
            Host = broker.Host, Port = broker.Port, Username = broker.Username, Password = broker.Password, ClientId = "kiosk-burst",
        }, NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        await kiosk.ConnectAsync(cts.Token);
        var payloads = Enumerable.Range(0, n).Select(i => TestEvents.Event(kiosk: "kiosk-1", at: TestEvents.T0.AddMilliseconds(i * 10)).ToByteArray()).ToList();
        var stats = server.Pipeline.Stats;

        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(payloads.Select(p => kiosk.PublishAsync("edge/v1/site-a/kiosk-1/events", p, MqttQos.AtLeastOnce, false, cts.Token)));
        var published = clock.Elapsed;
        while (stats.Processed < n)
        {
            await Task.Delay(20, cts.Token);
        }

        var ingested = clock.Elapsed;
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.Equal(n, await server.Store.CountEventsAsync(cts.Token));
        var perCommit = (double)stats.Processed / stats.Batches;
        output.WriteLine($"{n} events: published in {published.TotalSeconds:F2} s, stored in {ingested.TotalSeconds:F2} s " +
            $"({n / ingested.TotalSeconds:N0} events/s) in {stats.Batches} commits, {perCommit:F1} events per commit");
        Assert.True(perCommit >= 10, $"{perCommit:F1} events per commit ({stats.Batches} commits for {n} events): ingest is close to one commit per message");
    }
}
