using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Edge.Audit.Security;

namespace Edge.Audit.Tests;

public sealed class AuditApiTests : IAsyncLifetime
{
    private AuditServer _server = null!;

    public async Task InitializeAsync() => _server = await AuditServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<JsonElement> Json(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;

    [Theory]
    [InlineData("/api/v1/events")]
    [InlineData("/api/v1/summaries")]
    [InlineData("/api/v1/admin/tokens")]
    public async Task Get_NoToken_Returns401ProblemDetails(string path)
    {
        using var client = _server.Client();

        var r = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(401, (await Json(r)).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Get_UnknownToken_Returns401()
    {
        using var client = _server.Client("eat_not-a-real-token");

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/events")).StatusCode);
    }

    [Theory]
    [InlineData(Roles.Kiosk, "/api/v1/events", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Kiosk, "/api/v1/summaries", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Supervisor, "/api/v1/summaries", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Supervisor, "/api/v1/export.csv", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Supervisor, "/api/v1/admin/tokens", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Analyst, "/api/v1/admin/tokens", HttpStatusCode.Forbidden)]
    [InlineData(Roles.Supervisor, "/api/v1/flagged", HttpStatusCode.OK)]
    [InlineData(Roles.Analyst, "/api/v1/summaries", HttpStatusCode.OK)]
    [InlineData(Roles.Analyst, "/api/v1/export.csv", HttpStatusCode.OK)]
    [InlineData(Roles.Admin, "/api/v1/admin/tokens", HttpStatusCode.OK)]
    public async Task Get_RoleAgainstEndpoint_ReturnsExpectedStatus(string role, string path, HttpStatusCode expected)
    {
        using var client = _server.Client(await _server.TokenAsync(role));

        var r = await client.GetAsync(path);

        Assert.Equal(expected, r.StatusCode);
    }

    [Fact]
    public async Task PostReview_Supervisor_RecordsTokenOwnerAndLeavesQueue()
    {
        var flagged = TestEvents.Event(flagged: true, happy: 0.1f);
        await _server.IngestAsync(flagged, TestEvents.Event(flagged: true, happy: 0.2f));
        using var client = _server.Client(await _server.TokenAsync(Roles.Supervisor, "carol"));

        var post = await client.PostAsJsonAsync($"/api/v1/events/{flagged.EventId}/reviews", new { action = "escalate", comment = "check camera" });
        var detail = await Json(await client.GetAsync($"/api/v1/events/{flagged.EventId}"));
        var queue = await Json(await client.GetAsync("/api/v1/flagged"));

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var review = Assert.Single(detail.GetProperty("reviews").EnumerateArray());
        Assert.Equal("carol", review.GetProperty("actor").GetString());
        Assert.Equal("check camera", review.GetProperty("comment").GetString());
        Assert.Equal("escalated", detail.GetProperty("event").GetProperty("reviewState").GetString());
        Assert.Single(queue.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task PostReview_Analyst_Returns403AndNothingRecorded()
    {
        var e = TestEvents.Event(flagged: true);
        await _server.IngestAsync(e);
        using var client = _server.Client(await _server.TokenAsync(Roles.Analyst));

        var post = await client.PostAsJsonAsync($"/api/v1/events/{e.EventId}/reviews", new { action = "dismiss", comment = "" });

        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Empty((await _server.Store.GetEventAsync(e.EventId, CancellationToken.None))!.Reviews);
    }

    [Fact]
    public async Task PostReview_UnknownActionOrEvent_Returns400Or404()
    {
        var e = TestEvents.Event(flagged: true);
        await _server.IngestAsync(e);
        using var client = _server.Client(await _server.TokenAsync(Roles.Supervisor));

        var bad = await client.PostAsJsonAsync($"/api/v1/events/{e.EventId}/reviews", new { action = "delete", comment = "" });
        var missing = await client.PostAsJsonAsync($"/api/v1/events/{Guid.NewGuid()}/reviews", new { action = "dismiss", comment = "" });

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await Json(bad)).GetProperty("errors").TryGetProperty("action", out _));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Api_NulCharacterInCommentQueryOrOwner_Returns400NamingItAndRecordsNothing()
    {
        var e = TestEvents.Event(flagged: true);
        await _server.IngestAsync(e);
        using var client = _server.Client(await _server.TokenAsync(Roles.Admin));

        var review = await client.PostAsJsonAsync($"/api/v1/events/{e.EventId}/reviews", new { action = "dismiss", comment = "a\0b" });
        var query = await client.GetAsync("/api/v1/events?site=%00");
        var token = await client.PostAsJsonAsync("/api/v1/admin/tokens", new { owner = "pat\0", role = Roles.Supervisor });

        foreach (var (response, field) in new[] { (review, "comment"), (query, "site"), (token, "owner") })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("must not contain NUL characters", (await Json(response)).GetProperty("errors").GetProperty(field)[0].GetString());
        }

        Assert.Empty((await _server.Store.GetEventAsync(e.EventId, CancellationToken.None))!.Reviews);
    }

    [Fact]
    public async Task GetEvent_WithHeatmap_ReturnsDecodedRelevanceAndCrop()
    {
        var e = TestEvents.Event(flagged: true, heatmap: true, crop: true);
        await _server.IngestAsync(e);
        using var client = _server.Client(await _server.TokenAsync(Roles.Supervisor));

        var detail = await Json(await client.GetAsync($"/api/v1/events/{e.EventId}"));

        var h = Assert.Single(detail.GetProperty("heatmaps").EnumerateArray());
        var values = h.GetProperty("values").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.Equal(64 * 64, values.Length);
        Assert.Equal(1.27f, values[(32 * 64) + 32], 3); // 127 × 0.01 at the centre
        Assert.True(values[0] < 0);
        Assert.NotNull(detail.GetProperty("faceCropPngBase64").GetString());
    }

    [Fact]
    public async Task GetSummaries_ByKiosk_CountsMeanPercentilesAndFlagRate()
    {
        var events = new List<Edge.Sync.Contract.FaceEvent>();
        for (var i = 0; i < 100; i++)
        {
            events.Add(TestEvents.Event(kiosk: i < 60 ? "k1" : "k2", at: TestEvents.T0.AddMinutes(i % 120), happy: (i % 50) / 50f, flagged: i % 10 == 0));
        }

        await _server.IngestAsync([.. events]);
        using var client = _server.Client(await _server.TokenAsync(Roles.Analyst));

        var body = await Json(await client.GetAsync("/api/v1/summaries?site=site-a&groupBy=kiosk"));

        var groups = body.GetProperty("groups").EnumerateArray().ToArray();
        Assert.Equal(2, groups.Length);
        var k1 = groups.Single(g => g.GetProperty("kioskId").GetString() == "k1");
        Assert.Equal(60, k1.GetProperty("events").GetInt64());
        Assert.Equal(6, k1.GetProperty("flagged").GetInt64());
        Assert.Equal(0.1, k1.GetProperty("flagRate").GetDouble(), 6);
        var happy = k1.GetProperty("expressions").GetProperty("happy");
        var expectedMean = Enumerable.Range(0, 60).Average(i => (double)((i % 50) / 50f));
        Assert.Equal(expectedMean, happy.GetProperty("mean").GetDouble(), 4);
        var sorted = Enumerable.Range(0, 60).Select(i => (i % 50) / 50.0).Order().ToArray();
        Assert.InRange(happy.GetProperty("p50").GetDouble(), sorted[29] - 0.021, sorted[30] + 0.021); // 0.02 bins
        Assert.InRange(happy.GetProperty("p90").GetDouble(), sorted[53] - 0.021, sorted[54] + 0.021);
    }

    [Fact]
    public async Task GetSummaries_ByHour_OneGroupPerHour()
    {
        await _server.IngestAsync(TestEvents.Event(at: TestEvents.T0), TestEvents.Event(at: TestEvents.T0.AddMinutes(61)), TestEvents.Event(at: TestEvents.T0.AddMinutes(62)));
        using var client = _server.Client(await _server.TokenAsync(Roles.Analyst));

        var groups = (await Json(await client.GetAsync("/api/v1/summaries?groupBy=kiosk,hour"))).GetProperty("groups").EnumerateArray()
            .Select(g => (g.GetProperty("hour").GetDateTimeOffset(), g.GetProperty("events").GetInt64())).ToArray();

        Assert.Equal([(TestEvents.T0, 1L), (TestEvents.T0.AddHours(1), 2L)], groups);
    }

    [Fact]
    public async Task ExportCsv_EventWithFormulaReason_RowsPresentAndFormulaNeutralised()
    {
        var e = TestEvents.Event(flagged: true);
        e.FlagReason = "=HYPERLINK(\"http://x\",\"y\")";
        await _server.IngestAsync(e, TestEvents.Event());
        using var client = _server.Client(await _server.TokenAsync(Roles.Analyst));

        var r = await client.GetAsync("/api/v1/export.csv?flagged=true");
        var lines = (await r.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("text/csv", r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("event_id,site_id", lines[0], StringComparison.Ordinal);
        Assert.Contains(e.EventId, lines[1], StringComparison.Ordinal);
        Assert.Contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_TenMegabyteBody_Returns413AndChangesNothing()
    {
        var e = TestEvents.Event(flagged: true);
        await _server.IngestAsync(e);
        using var client = _server.Client(await _server.TokenAsync(Roles.Supervisor));
        var huge = "{\"action\":\"dismiss\",\"comment\":\"" + new string('x', 10 * 1024 * 1024) + "\"}";

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/events/{e.EventId}/reviews")
        {
            Content = new StringContent(huge, Encoding.UTF8, "application/json"),
        };
        request.Headers.ExpectContinue = true; // so the client reads the refusal instead of writing into a closed socket

        var r = await client.SendAsync(request);
        var ok = await client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var admin = _server.Client(await _server.TokenAsync(Roles.Admin));
        var rejects = await Json(await admin.GetAsync("/api/v1/admin/http-rejects"));
        Assert.Equal(1, rejects.GetProperty("413").GetInt64());
        var stored = await _server.Store.GetEventAsync(e.EventId, CancellationToken.None);
        Assert.Empty(stored!.Reviews);
        Assert.Equal("open", stored.Event.ReviewState);
    }

    [Fact]
    public async Task Get_SqlLookingStringInEveryFilter_HarmlessAndNothingChanges()
    {
        await _server.IngestAsync(TestEvents.Event(), TestEvents.Event(flagged: true));
        using var client = _server.Client(await _server.TokenAsync(Roles.Admin));
        var attack = Uri.EscapeDataString("x' OR '1'='1'; DROP TABLE events; --");

        var list = await client.GetAsync($"/api/v1/events?site={attack}&kiosk={attack}");
        var flagged = await client.GetAsync($"/api/v1/flagged?site={attack}");
        var summary = await client.GetAsync($"/api/v1/summaries?site={attack}&kiosk={attack}");
        var csv = await client.GetAsync($"/api/v1/export.csv?site={attack}");
        var timeline = await client.GetAsync($"/api/v1/kiosks/{attack}/{attack}/timeline");
        var detail = await client.GetAsync($"/api/v1/events/{attack}");
        var badClass = await client.GetAsync($"/api/v1/events?class={attack}&state={attack}&from={attack}&flagged={attack}&limit={attack}&cursor={attack}");

        Assert.Empty((await Json(list)).GetProperty("items").EnumerateArray());
        Assert.Empty((await Json(flagged)).GetProperty("items").EnumerateArray());
        Assert.Empty((await Json(summary)).GetProperty("groups").EnumerateArray());
        Assert.Single((await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty((await Json(timeline)).EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, detail.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badClass.StatusCode);
        var errors = (await Json(badClass)).GetProperty("errors");
        foreach (var key in new[] { "class", "state", "from", "flagged", "limit", "cursor" })
        {
            Assert.True(errors.TryGetProperty(key, out _), key);
        }

        Assert.Equal(2, await _server.Store.CountEventsAsync(CancellationToken.None));
        Assert.Equal(2, (await Json(await client.GetAsync("/api/v1/events"))).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task GetEvents_PagedWithCursor_EachEventOnce()
    {
        await _server.IngestAsync([.. Enumerable.Range(0, 25).Select(i => TestEvents.Event(at: TestEvents.T0.AddSeconds(i)))]);
        using var client = _server.Client(await _server.TokenAsync(Roles.Supervisor));
        var ids = new List<string>();
        string? cursor = null;

        do
        {
            var page = await Json(await client.GetAsync("/api/v1/events?limit=10" + (cursor is null ? "" : "&cursor=" + cursor)));
            ids.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("eventId").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(25, ids.Distinct().Count());
        Assert.Equal(25, ids.Count);
    }

    [Fact]
    public async Task AdminCreatesToken_NewToken_WorksForItsRoleOnly()
    {
        using var admin = _server.Client(await _server.TokenAsync(Roles.Admin));

        var created = await Json(await admin.PostAsJsonAsync("/api/v1/admin/tokens", new { owner = "dave", role = "analyst" }));
        using var dave = _server.Client(created.GetProperty("token").GetString());
        var me = await Json(await dave.GetAsync("/api/v1/me"));
        var forbidden = await dave.GetAsync("/api/v1/admin/tokens");
        var revoke = await admin.DeleteAsync($"/api/v1/admin/tokens/{created.GetProperty("id").GetInt64()}");
        var afterRevoke = await dave.GetAsync("/api/v1/me");

        Assert.Equal("dave", me.GetProperty("owner").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke.StatusCode);
        var stored = await _server.Store.ListTokensAsync(CancellationToken.None);
        Assert.DoesNotContain(stored, t => t.TokenSha256 == created.GetProperty("token").GetString());
        Assert.Contains(stored, t => t.TokenSha256 == ApiTokens.Hash(created.GetProperty("token").GetString()!));
    }

    [Fact]
    public async Task GetKiosks_AfterStatusMessage_ShowsOnlineAndBacklog()
    {
        var status = new Edge.Sync.Contract.KioskStatus { SchemaVersion = 1, SiteId = "site-a", KioskId = "kiosk-1", Online = true, TimeUnixMs = 1000, OutboxPending = 12, OldestPendingAgeSeconds = 4.5, Version = "1.2" };
        await _server.Pipeline.SubmitAsync("edge/v1/site-a/kiosk-1/status", Google.Protobuf.MessageExtensions.ToByteArray(status), CancellationToken.None);
        await _server.Pipeline.WaitUntilDrainedAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        using var client = _server.Client(await _server.TokenAsync(Roles.Supervisor));

        var k = Assert.Single((await Json(await client.GetAsync("/api/v1/kiosks"))).EnumerateArray());

        Assert.True(k.GetProperty("online").GetBoolean());
        Assert.Equal(12, k.GetProperty("outboxPending").GetInt64());
        Assert.Equal("1.2", k.GetProperty("version").GetString());
    }

    [Fact]
    public async Task GetIngestStats_AfterRejectsAndDuplicates_CountsByReason()
    {
        var e = TestEvents.Event();
        await _server.IngestAsync(e, e);
        var other = TestEvents.Event(kiosk: "kiosk-2");
        await _server.Pipeline.SubmitAsync("edge/v1/site-a/kiosk-1/events", Google.Protobuf.MessageExtensions.ToByteArray(other), CancellationToken.None);
        using var client = _server.Client(await _server.TokenAsync(Roles.Admin));

        var stats = await Json(await client.GetAsync("/api/v1/admin/ingest"));

        Assert.Equal(1, stats.GetProperty("stored").GetInt64());
        Assert.Equal(1, stats.GetProperty("rejected").GetProperty("Duplicate").GetInt64());
        Assert.Equal(1, stats.GetProperty("rejected").GetProperty("TopicMismatch").GetInt64());
    }
}
