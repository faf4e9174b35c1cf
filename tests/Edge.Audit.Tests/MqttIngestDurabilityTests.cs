using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Audit.Security;
using Edge.Audit.Storage;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Google.Protobuf;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Edge.Audit.Tests;

/// <summary>
/// Issue #7: edge-audit acknowledges an event to the broker (PUBACK) only after the commit that stores it, so a crash
/// between receipt and commit loses nothing. The crash is a real SIGKILL of the real executable.
/// </summary>
public sealed class MqttIngestDurabilityTests(ITestOutputHelper output)
{
    private const int Events = 200;

    private static string[] Args(MosquittoBroker broker, string connectionString) =>
    [
        "--Audit:Http:Urls=http://127.0.0.1:0",
        $"--Audit:Storage:ConnectionString={connectionString}",
        "--Audit:Mqtt:Enabled=true", $"--Audit:Mqtt:Host={broker.Host}", $"--Audit:Mqtt:Port={broker.Port}",
        $"--Audit:Mqtt:Username={broker.Username}", $"--Audit:Mqtt:Password={broker.Password}",
        "--Audit:Mqtt:ClientId=audit-crash", // the same id after the crash: the broker keeps this session's messages
        "--Audit:Mqtt:Transport:ReconnectMinDelay=00:00:00.050", "--Audit:Mqtt:Transport:ReconnectMaxDelay=00:00:00.500",
        "--Audit:Mqtt:Transport:CircuitBreakerBreak=00:00:00.500",
        "--Audit:Ingest:FlushInterval=00:00:00.020", "--Audit:Retention:Enabled=false",
    ];

    [Fact]
    public async Task EdgeAudit_KilledWhileItsCommitIsHeld_NextStartStoresEveryEventExactlyOnce()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var dir = Directory.CreateTempSubdirectory("edge-audit-crash-").FullName;
        var connectionString = $"Data Source={Path.Combine(dir, "audit.db")}";
        var store = new SqliteAuditStore(connectionString, TimeProvider.System, NullLogger<SqliteAuditStore>.Instance);
        await using var kiosk = new MosquittoTransport(new MqttBrokerOptions
        {
            Host = broker.Host, Port = broker.Port, Username = broker.Username, Password = broker.Password, ClientId = "kiosk-crash",
            ReconnectMinDelay = TimeSpan.FromMilliseconds(50), ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        }, NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        await kiosk.ConnectAsync(cts.Token);
        var instances = new List<AuditProcess>();
        try
        {
            var first = AuditProcess.Start(Args(broker, connectionString));
            instances.Add(first);
            await first.WaitForLogAsync("MQTT ingest subscribed to $share/edge-audit/edge/v1/+/+/events", TimeSpan.FromSeconds(60));
            await first.WaitForLogAsync("Now listening on", TimeSpan.FromSeconds(30));
            var admin = (await ApiTokens.CreateAsync(store, "test", "admin", TimeProvider.System, cts.Token)).Token;
            var probe = TestEvents.Event(kiosk: "kiosk-1");
            await kiosk.PublishAsync(TestEvents.Topic(probe), probe.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token);
            await WaitUntilAsync(async () => await store.CountEventsAsync(cts.Token) == 1, "the probe event stored", cts.Token);
            var events = Enumerable.Range(0, Events).Select(i => TestEvents.Event(kiosk: "kiosk-1", at: TestEvents.T0.AddSeconds(i))).ToList();

            await using (var commit = await CommitHold.TakeAsync(connectionString, cts.Token))
            {
                // 1. The kiosk sends N events while the service runs and its commit is held: SIGKILL.
                var results = await Task.WhenAll(events.Select(e => kiosk.PublishAsync(TestEvents.Topic(e), e.ToByteArray(), MqttQos.AtLeastOnce, false, cts.Token)));
                Assert.All(results, r => Assert.True(r.IsSuccess)); // the broker has them all: a kiosk's outbox deletes them now
                var read = await ReceivedOnceStableAsync(first, admin, atLeast: 1, cts.Token) - 1; // the probe was 1
                Assert.Equal(1, await store.CountEventsAsync(cts.Token)); // nothing committed since the probe
                await first.KillAsync();
                // With acknowledgement after commit the service reads one burst and then waits for its commit; the broker has
                // sent the rest to its socket. (Before, it read and acknowledged all of them.)
                output.WriteLine($"first instance killed having read {read} of {Events} events, none committed");

                // 2. The same with all of them read at once: a new instance starts while the broker is down, the broker
                // comes back, and sends the whole backlog of the session to the new connection. SIGKILL again.
                await broker.StopAsync(); // SIGTERM: the broker saves the session with its unacknowledged messages
                commit.Release(); // the new instance's start-up migration needs the write lock
                var second = AuditProcess.Start(Args(broker, connectionString));
                instances.Add(second);
                await second.WaitForLogAsync("Audit store ready", TimeSpan.FromSeconds(60));
                await second.WaitForLogAsync("Now listening on", TimeSpan.FromSeconds(30));
                await commit.HoldAgainAsync(cts.Token);
                await broker.StartAgainAsync(cts.Token);
                read = await ReceivedOnceStableAsync(second, admin, atLeast: 0, cts.Token);
                Assert.Equal(1, await store.CountEventsAsync(cts.Token));
                await second.KillAsync();
                output.WriteLine($"second instance killed having read {read} of {Events} events, none committed");
            } // the store works again

            // 3. A new instance with the same client id and a working store: every event is stored once.
            var third = AuditProcess.Start(Args(broker, connectionString));
            instances.Add(third);
            var clock = Stopwatch.StartNew();
            while (await store.CountEventsAsync(cts.Token) < Events + 1 && clock.Elapsed < TimeSpan.FromSeconds(60) && !third.HasExited)
            {
                await Task.Delay(100, cts.Token);
            }

            await Task.Delay(1000, cts.Token); // room for a late duplicate
            var stored = await store.CountEventsAsync(cts.Token) - 1;
            Assert.True(stored == Events, $"{stored} of {Events} events stored after the restarts: the rest were lost\n" +
                string.Join('\n', instances.Select((p, i) => $"--- instance {i + 1} ---\n{p.Log}")));
            foreach (var e in events)
            {
                Assert.NotNull(await store.GetEventAsync(e.EventId, cts.Token)); // event_id is the key: present means exactly once
            }

            output.WriteLine($"third instance stored all {Events} events, each once, {clock.Elapsed.TotalSeconds:F1} s after its start");
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.StopAsync();
                await instance.DisposeAsync();
            }

            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Holds SQLite's write lock from another connection (BEGIN IMMEDIATE), so the service's commit waits.</summary>
    private sealed class CommitHold : IAsyncDisposable
    {
        private readonly SqliteConnection _connection;
        private bool _held;

        private CommitHold(SqliteConnection connection) => _connection = connection;

        public static async Task<CommitHold> TakeAsync(string connectionString, CancellationToken cancellationToken)
        {
            var hold = new CommitHold(new SqliteConnection(connectionString + ";Pooling=False"));
            await hold._connection.OpenAsync(cancellationToken);
            await hold.HoldAgainAsync(cancellationToken);
            return hold;
        }

        public async Task HoldAgainAsync(CancellationToken cancellationToken)
        {
            await using var begin = _connection.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync(cancellationToken);
            _held = true;
        }

        public void Release()
        {
            if (_held)
            {
                using var rollback = _connection.CreateCommand();
                rollback.CommandText = "ROLLBACK";
                rollback.ExecuteNonQuery();
                _held = false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Release();
            await _connection.DisposeAsync();
        }
    }

    /// <summary>
    /// The service's count of received messages once it has stopped growing for a second (it reads until it waits for its
    /// commit) and is above <paramref name="atLeast"/>, or after 15 s whatever it is (so a run that lost the messages
    /// fails on the final count, with its logs).
    /// </summary>
    private static async Task<int> ReceivedOnceStableAsync(AuditProcess audit, string adminToken, int atLeast, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = audit.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        var clock = Stopwatch.StartNew();
        int last = -1, stableFor = 0;
        while (stableFor < 10)
        {
            await Task.Delay(100, cancellationToken);
            using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/admin/ingest", UriKind.Relative), cancellationToken));
            var received = json.RootElement.GetProperty("received").GetInt32();
            stableFor = received == last && (received > atLeast || clock.Elapsed > TimeSpan.FromSeconds(15)) ? stableFor + 1 : 0;
            last = received;
        }

        return last;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "timed out waiting for " + what);
            await Task.Delay(50, cancellationToken);
        }
    }
}
