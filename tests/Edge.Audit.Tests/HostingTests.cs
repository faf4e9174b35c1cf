using Edge.Audit.Hosting;
using Edge.Audit.Storage;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Tests;

public sealed class HostingTests
{
    [Theory]
    [InlineData("--Audit:Ingest:BatchSize=0", "Audit:Ingest:BatchSize")]
    [InlineData("--Audit:Ingest:FlushInterval=00:01:00", "Audit:Ingest:FlushInterval")]
    [InlineData("--Audit:Retention:Heatmaps=400.00:00:00", "Audit:Retention:Heatmaps")]
    [InlineData("--Audit:Mqtt:Port=70000", "Audit:Mqtt:Port")]
    [InlineData("--Audit:Mqtt:SharedGroup=a/b", "Audit:Mqtt:SharedGroup")]
    [InlineData("--Audit:Http:MaxRequestBodyBytes=100", "Audit:Http:MaxRequestBodyBytes")]
    [InlineData("--Audit:Mqtt:Transport:KeepAlive=00:00:01", "KeepAlive")]
    public async Task Start_InvalidOption_FailsWithMessageNamingTheKey(string arg, string key)
    {
        string[] args = arg.Contains(":Mqtt:", StringComparison.Ordinal) ? [arg, "--Audit:Mqtt:Enabled=true"] : [arg];

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => AuditServer.StartAsync(null, args));

        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public async Task CommandLine_Help_PrintsUsageWithoutStartingTheServer(string help)
    {
        var stdout = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var code = await AuditCommandLine.RunAsync([help], stdout, TextWriter.Null, timeout.Token);

        Assert.Equal(0, code);
        Assert.StartsWith("usage: edge-audit [serve]", stdout.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Audit:Storage:ConnectionString=Data Source=/proc/edge-no-such-dir/a.db", 1, "edge-audit: cannot start: SQLite Error 14")]
    [InlineData("--Audit:Storage:Provider=Oracle", 2, "edge-audit: invalid configuration:\n  Failed to convert configuration value 'Oracle' at 'Audit:Storage:Provider'")]
    public async Task CommandLine_ServeCannotStart_OneLineAndExitCode(string setting, int expectedCode, string expected)
    {
        var stderr = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var code = await AuditCommandLine.RunAsync(["serve", setting, "--Audit:Http:Urls=http://127.0.0.1:0"], TextWriter.Null, stderr, timeout.Token);

        Assert.Equal(expectedCode, code);
        Assert.StartsWith(expected, stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandLine_InvalidOption_ExitCode2AndKeyOnStderr()
    {
        var stderr = new StringWriter();

        var code = await AuditCommandLine.RunAsync(["migrate", "--Audit:Ingest:QueueCapacity=5"], TextWriter.Null, stderr, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.Contains("Audit:Ingest:QueueCapacity", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandLine_TokenCreate_PrintsTokenThatTheStoreKnowsByHashOnly()
    {
        var db = Path.Combine(Directory.CreateTempSubdirectory("edge-audit-").FullName, "a.db");
        var stdout = new StringWriter();

        var code = await AuditCommandLine.RunAsync(["token", "create", "--owner", "erin", "--role", "admin", $"--Audit:Storage:ConnectionString=Data Source={db}"],
            stdout, TextWriter.Null, CancellationToken.None);
        var token = stdout.ToString().Trim();
        var store = new SqliteAuditStore($"Data Source={db}", TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteAuditStore>.Instance);

        Assert.Equal(0, code);
        Assert.StartsWith("eat_", token, StringComparison.Ordinal);
        var row = await store.FindTokenAsync(Security.ApiTokens.Hash(token), CancellationToken.None);
        Assert.Equal(("erin", "admin"), (row!.Owner, row.Role));
        Assert.Null(await store.FindTokenAsync(token, CancellationToken.None));
    }

    [Fact]
    public async Task CommandLine_TokenCreateWithUnknownRole_ExitCode2()
    {
        var db = Path.Combine(Directory.CreateTempSubdirectory("edge-audit-").FullName, "a.db");

        var code = await AuditCommandLine.RunAsync(["token", "create", "--owner", "x", "--role", "root", $"--Audit:Storage:ConnectionString=Data Source={db}"],
            TextWriter.Null, TextWriter.Null, CancellationToken.None);

        Assert.Equal(2, code);
    }

    [Theory]
    [InlineData("2026-01-01T02:00:00Z", 1.0)]
    [InlineData("2026-01-01T03:00:00Z", 24.0)]
    [InlineData("2026-01-01T23:30:00Z", 3.5)]
    public void DelayUntilNextRun_TimeOfDay_NextThreeOClockUtc(string now, double hours)
    {
        Assert.Equal(TimeSpan.FromHours(hours), RetentionService.DelayUntilNextRun(DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromHours(3)));
    }

    [Fact]
    public async Task RetentionRun_AdminEndpoint_DeletesByConfiguredAgesUsingTheInjectedClock()
    {
        var time = new ManualTimeProvider(TestEvents.T0);
        await using var server = await AuditServer.StartAsync(time, "--Audit:Retention:Events=30.00:00:00", "--Audit:Retention:Heatmaps=7.00:00:00", "--Audit:Retention:FaceCrops=2.00:00:00");
        var old = TestEvents.Event(at: TestEvents.T0.AddDays(-31), heatmap: true, crop: true);
        var week = TestEvents.Event(at: TestEvents.T0.AddDays(-8), heatmap: true, crop: true);
        var fresh = TestEvents.Event(at: TestEvents.T0.AddDays(-1), heatmap: true, crop: true);
        await server.IngestAsync(old, week, fresh);
        using var admin = server.Client(await server.TokenAsync(Security.Roles.Admin));

        var first = await (await admin.PostAsync("/api/v1/admin/retention/run", null)).Content.ReadAsStringAsync();
        time.Advance(TimeSpan.FromDays(2));
        var second = await (await admin.PostAsync("/api/v1/admin/retention/run", null)).Content.ReadAsStringAsync();

        Assert.Equal("""{"events":1,"heatmaps":2,"faceCrops":2}""", first);
        Assert.Equal("""{"events":0,"heatmaps":0,"faceCrops":1}""", second);
        Assert.Equal(2, await server.Store.CountEventsAsync(CancellationToken.None));
        var f = (await server.Store.GetEventAsync(fresh.EventId, CancellationToken.None))!;
        Assert.Single(f.Heatmaps);
        Assert.Null(f.FaceCropPng);
    }

    [Fact]
    public async Task RetentionService_ScheduledRun_PurgesWhenTheDailyTimerFires()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 21, 2, 59, 59, 500, TimeSpan.Zero));
        await using var server = await AuditServer.StartAsync(time, "--Audit:Retention:Events=1.00:00:00", "--Audit:Retention:Heatmaps=1.00:00:00", "--Audit:Retention:FaceCrops=1.00:00:00");
        var old = TestEvents.Event(at: new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        await server.IngestAsync(old);

        // The job waits 500 ms (until 03:00:00 UTC) on the injected clock's timer, then purges.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (await server.Store.CountEventsAsync(CancellationToken.None) != 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "the scheduled retention run did not happen");
            await Task.Delay(50);
        }
    }
}
