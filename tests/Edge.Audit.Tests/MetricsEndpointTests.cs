using System.Net;
using Edge.Audit.Security;
using Edge.Sync.Contract;
using Edge.Testing;
using Google.Protobuf;

namespace Edge.Audit.Tests;

/// <summary>GET /metrics on the real service: Prometheus text behind the API tokens (role metrics or admin).</summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private AuditServer _server = null!;

    public async Task InitializeAsync() => _server = await AuditServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<PrometheusText> ScrapeAsync(HttpClient client)
    {
        using var r = await client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Content.Headers.ContentType?.ToString());
        return PrometheusText.Parse(await r.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Scrapes until <paramref name="done"/> holds (at most 10 s): a request is counted after its response is written,
    /// so the client can see the response a moment before the counter moves; a scrape then still returns the older value.
    /// </summary>
    private static async Task<PrometheusText> ScrapeUntilAsync(HttpClient client, Func<PrometheusText, bool> done)
    {
        var metrics = await ScrapeAsync(client);
        for (var i = 0; i < 200 && !done(metrics); i++)
        {
            await Task.Delay(50);
            metrics = await ScrapeAsync(client);
        }

        return metrics;
    }

    [Fact]
    public async Task Metrics_NoToken_Returns401WithBearerChallenge()
    {
        using var client = _server.Client();

        using var r = await client.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Equal("Bearer", r.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData(Roles.Kiosk, "/metrics", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Supervisor, "/metrics", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Analyst, "/metrics", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Metrics, "/metrics", HttpStatusCode.OK)]
    [InlineData(Roles.Admin, "/metrics", HttpStatusCode.OK)]
    [InlineData(Roles.Metrics, "/api/v1/events", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Metrics, "/api/v1/drift", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Metrics, "/api/v1/admin/ingest", HttpStatusCode.Forbidden)]
    public async Task Get_RoleAgainstMetricsOrApi_OnlyMetricsAndAdminScrapeAndScrapeTokenReadsNothingElse(string role, string path, HttpStatusCode expected)
    {
        using var client = _server.Client(await _server.TokenAsync(role));

        using var r = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(expected, r.StatusCode);
    }

    [Fact]
    public async Task Metrics_BeforeAnyIngest_ParsesAndAnnouncesEveryAuditInstrument()
    {
        using var client = _server.Client(await _server.TokenAsync(Roles.Metrics));

        var metrics = await ScrapeAsync(client);

        foreach (var (name, type) in new[]
        {
            ("edge_audit_ingest_received_total", "counter"), ("edge_audit_ingest_accepted_total", "counter"),
            ("edge_audit_ingest_rejected_total", "counter"), ("edge_audit_ingest_stored_total", "counter"),
            ("edge_audit_ingest_statuses_total", "counter"), ("edge_audit_ingest_store_failures_total", "counter"),
            ("edge_audit_ingest_lag_seconds", "histogram"), ("edge_audit_ingest_batch_size", "histogram"),
            ("edge_audit_ingest_commit_duration_seconds", "histogram"), ("edge_audit_ingest_queue_depth", "gauge"),
            ("edge_audit_ingest_queue_capacity", "gauge"), ("edge_audit_kiosks_online", "gauge"), ("edge_audit_kiosks_known", "gauge"),
            ("edge_audit_http_requests_total", "counter"),
        })
        {
            Assert.True(metrics.Families.TryGetValue(name, out var family), $"{name} missing; families: {string.Join(", ", metrics.Families.Keys)}");
            Assert.Equal(type, family.Type);
            Assert.False(string.IsNullOrWhiteSpace(family.Help), name);
        }

        var reasons = metrics.Families["edge_audit_ingest_rejected_total"].Samples.Select(s => s.Labels["reason"]).ToList();
        Assert.Equal(Enum.GetNames<Ingest.RejectReason>().Order(StringComparer.Ordinal), reasons.Order(StringComparer.Ordinal)); // all at 0 from the start
        Assert.Single(metrics.Families["edge_audit_ingest_received_total"].Samples);
        Assert.Equal(20_000, metrics.Value("edge_audit_ingest_queue_capacity"));
        Assert.Equal(0, metrics.Value("edge_audit_ingest_queue_depth"));
        Assert.All(metrics.Families.Values.Where(f => f.Type == "counter"), f => Assert.EndsWith("_total", f.Name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_AfterEventsDuplicateRejectAndStatus_CountersHistogramsAndGaugesMove()
    {
        using var client = _server.Client(await _server.TokenAsync(Roles.Metrics));
        var before = await ScrapeAsync(client);
        var e1 = TestEvents.Event();
        var e2 = TestEvents.Event(at: TestEvents.T0.AddMinutes(1));
        var wrongKiosk = TestEvents.Event(kiosk: "kiosk-2");
        var status = new KioskStatus { SchemaVersion = 1, SiteId = "site-a", KioskId = "kiosk-1", Online = true, TimeUnixMs = 1000 };
        var offline = new KioskStatus { SchemaVersion = 1, SiteId = "site-a", KioskId = "kiosk-9", Online = false, TimeUnixMs = 1000 };

        await _server.IngestAsync(e1, e2, e1);
        await _server.Pipeline.SubmitAsync("edge/v1/site-a/kiosk-1/events", wrongKiosk.ToByteArray(), CancellationToken.None);
        await _server.Pipeline.SubmitAsync("edge/v1/site-a/kiosk-1/status", status.ToByteArray(), CancellationToken.None);
        await _server.Pipeline.SubmitAsync("edge/v1/site-a/kiosk-9/status", offline.ToByteArray(), CancellationToken.None);
        await _server.Pipeline.WaitUntilDrainedAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        using (var reader = _server.Client(await _server.TokenAsync(Roles.Supervisor)))
        {
            (await reader.GetAsync(new Uri("/api/v1/events", UriKind.Relative))).Dispose();
            (await reader.GetAsync(new Uri("/api/v1/summaries", UriKind.Relative))).Dispose(); // 403 for a supervisor
        }

        var after = await ScrapeUntilAsync(client, m => m.Value("edge_audit_http_rejected_total", ("status", "403")) >= 1);

        double Delta(string name, params (string, string)[] labels) => after.Value(name, labels) - before.Value(name, labels);
        Assert.Equal(6, Delta("edge_audit_ingest_received_total"));
        Assert.Equal(5, Delta("edge_audit_ingest_accepted_total"));
        Assert.Equal(2, Delta("edge_audit_ingest_stored_total"));
        Assert.Equal(2, Delta("edge_audit_ingest_statuses_total"));
        Assert.Equal(1, Delta("edge_audit_ingest_rejected_total", ("reason", "Duplicate")));
        Assert.Equal(1, Delta("edge_audit_ingest_rejected_total", ("reason", "TopicMismatch")));
        Assert.Equal(5, Delta("edge_audit_ingest_lag_seconds_count"));
        Assert.Equal(5, Delta("edge_audit_ingest_lag_seconds_bucket", ("le", "+Inf")));
        Assert.True(Delta("edge_audit_ingest_lag_seconds_sum") > 0);
        Assert.True(Delta("edge_audit_ingest_batch_size_count") >= 1);
        Assert.Equal(5, Delta("edge_audit_ingest_batch_size_sum"));
        Assert.Equal(Delta("edge_audit_ingest_batch_size_count"), Delta("edge_audit_ingest_commit_duration_seconds_count"));
        Assert.Equal(1, after.Value("edge_audit_kiosks_online"));
        Assert.Equal(2, after.Value("edge_audit_kiosks_known"));
        Assert.Equal(0, after.Value("edge_audit_ingest_queue_depth"));
        Assert.Equal(1, after.Value("edge_audit_http_requests_total", ("method", "GET"), ("route", "/api/v1/events"), ("status", "200")));
        Assert.Equal(1, after.Value("edge_audit_http_requests_total", ("method", "GET"), ("route", "/api/v1/summaries"), ("status", "403")));
        Assert.Equal(1, after.Value("edge_audit_http_rejected_total", ("status", "403")));
        Assert.True(after.Value("edge_audit_http_requests_total", ("method", "GET"), ("route", "/metrics"), ("status", "200")) >= 1);
    }

    [Fact]
    public async Task KiosksOnline_StatusAlreadyInTheStore_CountedByANewInstanceFromTheStart()
    {
        var status = new KioskStatus { SchemaVersion = 1, SiteId = "site-a", KioskId = "kiosk-1", Online = true, TimeUnixMs = 1000 };
        await _server.Pipeline.SubmitAsync("edge/v1/site-a/kiosk-1/status", status.ToByteArray(), CancellationToken.None);
        await _server.Pipeline.WaitUntilDrainedAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        var connectionString = _server.ConnectionString;
        await using var restarted = await AuditServer.StartAsync(null, $"--Audit:Storage:ConnectionString={connectionString}");
        using var client = restarted.Client(await restarted.TokenAsync(Roles.Metrics));

        // the writer reads the statuses as it starts (no MQTT here, so nothing else could tell it)
        var metrics = await ScrapeUntilAsync(client, m => m.Value("edge_audit_kiosks_online") == 1);

        Assert.Equal(1, metrics.Value("edge_audit_kiosks_online"));
    }
}
