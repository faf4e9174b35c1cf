using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Edge.Audit.Ingest;
using Edge.Audit.Security;
using Edge.Sync.Contract;
using Edge.Sync;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Google.Protobuf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Audit.Tests;

/// <summary>Ingest through a real Mosquitto broker on 127.0.0.1 with Edge.Sync's libmosquitto transport.</summary>
public sealed class MqttIngestTests
{
    private static MqttBrokerOptions Client(string host, int port, string user, string password, string id) => new()
    {
        Host = host, Port = port, Username = user, Password = password, ClientId = id,
        ConnectTimeout = TimeSpan.FromSeconds(5), PublishTimeout = TimeSpan.FromSeconds(10),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(50), ReconnectMaxDelay = TimeSpan.FromMilliseconds(500), CircuitBreakerBreak = TimeSpan.FromSeconds(1),
    };

    private static string[] AuditArgs(string host, int port, string user, string password, string clientId) =>
    [
        "--Audit:Mqtt:Enabled=true", $"--Audit:Mqtt:Host={host}", $"--Audit:Mqtt:Port={port}", $"--Audit:Mqtt:Username={user}",
        $"--Audit:Mqtt:Password={password}", $"--Audit:Mqtt:ClientId={clientId}", "--Audit:Mqtt:Transport:ReconnectMinDelay=00:00:00.050",
        "--Audit:Mqtt:Transport:ReconnectMaxDelay=00:00:00.500",
    ];

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(seconds), "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task MqttIngest_KioskPublishesEvents_StoredOnceRejectsCountedRetainedStatusSeen()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var kiosk = new MosquittoTransport(Client(broker.Host, broker.Port, broker.Username, broker.Password, "kiosk-1"), NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        await kiosk.ConnectAsync(cts.Token);
        var status = new KioskStatus { SchemaVersion = 1, SiteId = "site-a", KioskId = "kiosk-1", Online = true, TimeUnixMs = 5, OutboxPending = 7 };
        Assert.True((await kiosk.PublishAsync("edge/v1/site-a/kiosk-1/status", status.ToByteArray(), MqttQos.AtLeastOnce, true, cts.Token)).IsSuccess);

        await using var server = await AuditServer.StartAsync(null, AuditArgs(broker.Host, broker.Port, broker.Username, broker.Password, "audit-1"));
        await server.Services.GetRequiredService<MqttIngestService>().Subscribed.WaitAsync(cts.Token);
        var events = Enumerable.Range(0, 50).Select(i => TestEvents.Event(kiosk: "kiosk-1", at: TestEvents.T0.AddSeconds(i), heatmap: i % 5 == 0)).ToList();
        foreach (var e in events)
        {
            Assert.True((await kiosk.PublishAsync(TestEvents.Topic(e), e.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token)).IsSuccess);
        }

        await kiosk.PublishAsync(TestEvents.Topic(events[0]), events[0].ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token); // redelivery
        var impostor = TestEvents.Event(kiosk: "kiosk-2");
        await kiosk.PublishAsync("edge/v1/site-a/kiosk-1/events", impostor.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token);
        await kiosk.PublishAsync("edge/v1/site-a/kiosk-1/events", "not protobuf at all"u8.ToArray(), MqttQos.AtLeastOnce, false, cts.Token);

        var stats = server.Pipeline.Stats;
        await WaitForAsync(async () => stats.Processed >= 52 && stats.RejectedCount(RejectReason.TopicMismatch) == 1 && stats.RejectedCount(RejectReason.Malformed) >= 1
            && (await server.Store.ListKioskStatusAsync(cts.Token)).Count == 1, "ingest");
        Assert.Equal(50, await server.Store.CountEventsAsync(cts.Token));
        Assert.Equal(1, stats.RejectedCount(RejectReason.Duplicate));
        Assert.Null(await server.Store.GetEventAsync(impostor.EventId, cts.Token));
        Assert.Single((await server.Store.GetEventAsync(events[0].EventId, cts.Token))!.Heatmaps);
        Assert.Equal(7, (await server.Store.ListKioskStatusAsync(cts.Token))[0].OutboxPending);
    }

    [Fact]
    public async Task MqttIngest_AddEdgeSyncKioskConnectsThenStops_StatusStoredOnlineThenOffline()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var server = await AuditServer.StartAsync(null, AuditArgs(broker.Host, broker.Port, broker.Username, broker.Password, "audit-status"));
        await server.Services.GetRequiredService<MqttIngestService>().Subscribed.WaitAsync(cts.Token);
        var outbox = Directory.CreateTempSubdirectory("edge-outbox-").FullName;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Sync:SiteId"] = "site-a", ["Sync:KioskId"] = "kiosk-3", ["Sync:Broker:Host"] = broker.Host,
            ["Sync:Broker:Port"] = broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Sync:Broker:Username"] = broker.Username, ["Sync:Broker:Password"] = broker.Password,
            ["Sync:Outbox:Path"] = Path.Combine(outbox, "outbox.db"),
        });
        builder.Logging.ClearProviders();
        builder.Services.AddEdgeSync(builder.Configuration);
        var kiosk = builder.Build();
        try
        {
            await kiosk.StartAsync(cts.Token);
            await WaitForAsync(async () => (await server.Store.ListKioskStatusAsync(cts.Token)).Any(k => k is { KioskId: "kiosk-3", Online: true }), "the online status");
            await kiosk.StopAsync(cts.Token);
        }
        finally
        {
            await ((IAsyncDisposable)kiosk).DisposeAsync(); // the planned stop: the broker publishes the kiosk's Last Will
            Directory.Delete(outbox, recursive: true);
        }

        await WaitForAsync(async () => (await server.Store.ListKioskStatusAsync(cts.Token)).Any(k => k is { KioskId: "kiosk-3", Online: false }), "the offline status");
        Assert.Equal(0, server.Pipeline.Stats.RejectedCount(RejectReason.Malformed));
    }

    [Fact]
    public async Task MqttIngest_TwoInstancesInOneSharedGroup_SplitTheLoadWithoutLoss()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var a = await AuditServer.StartAsync(null, AuditArgs(broker.Host, broker.Port, broker.Username, broker.Password, "audit-a"));
        await using var b = await AuditServer.StartAsync(null, AuditArgs(broker.Host, broker.Port, broker.Username, broker.Password, "audit-b"));
        await a.Services.GetRequiredService<MqttIngestService>().Subscribed.WaitAsync(cts.Token);
        await b.Services.GetRequiredService<MqttIngestService>().Subscribed.WaitAsync(cts.Token);
        await using var kiosk = new MosquittoTransport(Client(broker.Host, broker.Port, broker.Username, broker.Password, "kiosk-7"), NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        await kiosk.ConnectAsync(cts.Token);

        for (var i = 0; i < 200; i++)
        {
            var e = TestEvents.Event(kiosk: "kiosk-7", at: TestEvents.T0.AddSeconds(i));
            await kiosk.PublishAsync(TestEvents.Topic(e), e.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token);
        }

        await WaitForAsync(async () => await a.Store.CountEventsAsync(cts.Token) + await b.Store.CountEventsAsync(cts.Token) >= 200, "200 events across both instances");
        var countA = await a.Store.CountEventsAsync(cts.Token);
        var countB = await b.Store.CountEventsAsync(cts.Token);
        Assert.Equal(200, countA + countB);
        Assert.True(countA > 20 && countB > 20, $"load not shared: {countA} / {countB}");
    }

    [Fact]
    public async Task GeneratedAcl_KioskPublishesUnderOwnAndOthersTopic_OnlyOwnReachesTheAuditStore()
    {
        Assert.True(MosquittoBroker.IsAvailable, "mosquitto is required: apt-get install mosquitto mosquitto-clients");
        var dir = Directory.CreateTempSubdirectory("edge-acl-").FullName;
        var port = FreePort();
        var creds = MosquittoAcl.Write(dir, MosquittoAcl.ParseKiosks(["site-a/kiosk-1", "site-a/kiosk-2"]), "edge-audit", port);
        await File.AppendAllTextAsync(Path.Combine(dir, "mosquitto.conf"), "user root\n"); // tests run as root; production uses the mosquitto user
        using var mosquitto = Process.Start(new ProcessStartInfo(MosquittoBroker.MosquittoPath, ["-c", Path.Combine(dir, "mosquitto.conf")]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            await WaitForPortAsync(port);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var audit = creds.Single(c => c.Username == "edge-audit");
            var k1 = creds.Single(c => c.Username == "site-a/kiosk-1");
            await using var server = await AuditServer.StartAsync(null, AuditArgs("127.0.0.1", port, audit.Username, audit.Password, "audit-acl"));
            await server.Services.GetRequiredService<MqttIngestService>().Subscribed.WaitAsync(cts.Token);
            await using var kiosk = new MosquittoTransport(Client("127.0.0.1", port, k1.Username, k1.Password, "k1"), NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
            await kiosk.ConnectAsync(cts.Token);

            var own = TestEvents.Event(site: "site-a", kiosk: "kiosk-1");
            var foreign = TestEvents.Event(site: "site-a", kiosk: "kiosk-2");
            var ownResult = await kiosk.PublishAsync(TestEvents.Topic(own), own.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token);
            var foreignResult = await kiosk.PublishAsync(TestEvents.Topic(foreign), foreign.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token);
            var marker = TestEvents.Event(site: "site-a", kiosk: "kiosk-1"); // sent after: once it is stored, the foreign one had its chance
            await kiosk.PublishAsync(TestEvents.Topic(marker), marker.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token);

            await WaitForAsync(async () => await server.Store.GetEventAsync(marker.EventId, cts.Token) is not null, "the kiosk's own events");
            Assert.True(ownResult.IsSuccess);
            Assert.False(foreignResult.IsSuccess, $"broker accepted a publish under another kiosk's topic (reason 0x{foreignResult.ReasonCode:X2})");
            Assert.NotNull(await server.Store.GetEventAsync(own.EventId, cts.Token));
            Assert.Null(await server.Store.GetEventAsync(foreign.EventId, cts.Token));
            Assert.Equal(2, await server.Store.CountEventsAsync(cts.Token));

            // A wrong password is refused by the broker.
            await using var intruder = new MosquittoTransport(Client("127.0.0.1", port, k1.Username, "wrong", "intruder"), NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
            using var shortWait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => intruder.ConnectAsync(shortWait.Token));
            Assert.Equal(MqttErrorKind.NotAuthorized, intruder.LastError?.Kind);
        }
        finally
        {
            mosquitto.Kill();
            await mosquitto.WaitForExitAsync();
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void MosquittoAcl_Generated_EachKioskWritesOnlyItsTreeAndPasswordsAreHashed()
    {
        var kiosks = MosquittoAcl.ParseKiosks(["# plant 1", "site-a/kiosk-1", "", "site-b,kiosk-9"]);
        var dir = Directory.CreateTempSubdirectory("edge-acl-").FullName;

        var creds = MosquittoAcl.Write(dir, kiosks, "edge-audit", 1883);
        var acl = File.ReadAllText(Path.Combine(dir, "acl"));
        var passwd = File.ReadAllLines(Path.Combine(dir, "passwd"));

        Assert.Contains("user site-a/kiosk-1\ntopic write edge/v1/site-a/kiosk-1/#", acl.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("user site-b/kiosk-9\ntopic write edge/v1/site-b/kiosk-9/#", acl.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("topic write edge/v1/+", acl, StringComparison.Ordinal);
        Assert.Equal(3, passwd.Length);
        Assert.All(passwd, l => Assert.Matches(@"^[^:]+:\$7\$20000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$", l));
        Assert.All(creds, c => Assert.DoesNotContain(c.Password, string.Join('\n', passwd), StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "credentials.csv")));
        Assert.Throws<FormatException>(() => MosquittoAcl.ParseKiosks(["site-a/kiosk-1/#"]));
        Assert.Throws<FormatException>(() => MosquittoAcl.ParseKiosks(["site-a/+"]));
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        throw new TimeoutException("mosquitto did not listen");
    }
}
