using Edge.Audit.Drift;
using Edge.Audit.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Edge.Audit.Tests;

/// <summary>The review page in a real browser: Debian's Chromium driven by Microsoft.Playwright, headless.</summary>
public sealed class ReviewPageBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    private static async Task<IBrowser> LaunchAsync(IPlaywright playwright) => await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = Chromium,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });

    [Fact]
    public async Task ReviewPage_SupervisorTriagesQueue_OverlayAndKioskDriftRenderAndReviewsRecordedWithOwner()
    {
        Assert.True(File.Exists(Chromium), "Debian chromium is required: apt-get install chromium");
        await using var server = await AuditServer.StartAsync();
        var older = TestEvents.Event(kiosk: "kiosk-1", at: TestEvents.T0.AddHours(3), happy: 0.05f, flagged: true, heatmap: true, crop: true);
        var newer = TestEvents.Event(kiosk: "kiosk-1", at: TestEvents.T0.AddHours(4), happy: 0.08f, flagged: true, heatmap: true, crop: true);
        var history = Enumerable.Range(0, 12).Select(i => TestEvents.Event(kiosk: "kiosk-1", at: TestEvents.T0.AddMinutes(i * 20), happy: 0.6f + (i * 0.02f))).ToArray();
        await server.IngestAsync([.. history, older, newer]);
        // kiosk-1 reports drift in alert (happy PSI 0.8); kiosk-0, alphabetically first, is fine
        var drift = server.Services.GetRequiredService<DriftIngest>();
        var reported = TestEvents.T0.AddHours(5);
        await drift.HandleAsync(TestEvents.DriftMessage(TestEvents.Drift("alert", reported.ToUnixTimeMilliseconds(), 0.8)), CancellationToken.None);
        await drift.HandleAsync(TestEvents.DriftMessage(TestEvents.Drift("ok", reported.ToUnixTimeMilliseconds(), 0.02, kiosk: "kiosk-0")), CancellationToken.None);
        var token = await server.TokenAsync(Roles.Supervisor, "pat");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1000 } });
        var consoleErrors = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                consoleErrors.Add(m.Text);
            }
        };
        page.PageError += (_, e) => consoleErrors.Add(e);

        await page.GotoAsync(new Uri(server.BaseAddress, "/review/").ToString());
        await page.FillAsync("#token", token);
        await page.ClickAsync("#signin-button");
        await page.WaitForSelectorAsync("#queue li >> nth=1");
        await page.WaitForSelectorAsync("#event:not([hidden])");
        await page.WaitForFunctionAsync("() => Number(document.getElementById('timeline').dataset.points) > 0");

        // The newest flagged event is selected first; its seven score bars are drawn.
        Assert.Equal(newer.EventId, await page.GetAttributeAsync("#queue li.selected", "data-event-id"));
        Assert.Equal(7, await page.Locator("#scores .score").CountAsync());
        Assert.Equal("pat (supervisor)", await page.TextContentAsync("#whoami"));
        Assert.True(await page.Locator("#no-heatmap").IsHiddenAsync());
        Assert.Equal("5", await page.GetAttributeAsync("#timeline", "data-points")); // hours 0-2 of history, the flagged ones at 3 and 4

        // Drift: the fleet list puts the kiosk in alert first; the selected event's kiosk shows its drift beside the timeline.
        Assert.Equal(["site-a/kiosk-1", "site-a/kiosk-0"], await page.Locator("#drift-list li").EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.kiosk)"));
        Assert.Equal("alert", await page.TextContentAsync("#drift-list li[data-kiosk='site-a/kiosk-1'] .badge"));
        Assert.Equal("ok", await page.TextContentAsync("#drift-list li[data-kiosk='site-a/kiosk-0'] .badge"));
        Assert.Equal("alert", await page.GetAttributeAsync("#kiosk-drift", "data-level"));
        Assert.Equal("alert", await page.TextContentAsync("#kiosk-drift .badge"));
        Assert.Equal(["worst PSI", "reported", "window"], await page.Locator("#kiosk-drift dt").AllTextContentsAsync());
        Assert.Equal(["0.80 (happy)", "2026-11-20 13:00:00Z", "500 faces"], await page.Locator("#kiosk-drift dd").AllTextContentsAsync());
        Assert.Equal("drift alert: happy PSI 0.80", await page.TextContentAsync("#kiosk-drift .reason"));
        var timelineBox = (await page.Locator("#timeline").BoundingBoxAsync())!;
        var driftBox = (await page.Locator("#kiosk-drift").BoundingBoxAsync())!;
        Assert.True(await page.Locator("#kiosk-drift").IsVisibleAsync());
        Assert.True(driftBox.X >= timelineBox.X + timelineBox.Width && Math.Abs(driftBox.Y - timelineBox.Y) < 1,
            $"the drift panel should sit beside the timeline: timeline {timelineBox.X},{timelineBox.Y} {timelineBox.Width}w, drift {driftBox.X},{driftBox.Y}");
        var shots = Environment.GetEnvironmentVariable("EDGE_AUDIT_SCREENSHOTS");
        if (shots is not null)
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "review-page.png"), FullPage = true });
        }

        // Screenshot check: the overlay adds red relevance over the face; hiding it (h) removes it.
        var withOverlay = Png.Decode(await page.Locator("#face").ScreenshotAsync());
        await page.Keyboard.PressAsync("h");
        var withoutOverlay = Png.Decode(await page.Locator("#face").ScreenshotAsync());
        await page.Keyboard.PressAsync("h");
        var reddened = CountReddened(withOverlay.Rgba, withoutOverlay.Rgba);
        Assert.True(reddened > withOverlay.Width * withOverlay.Height / 20, $"overlay should tint the face red: {reddened} pixels of {withOverlay.Width * withOverlay.Height}");
        var differing = CountDiffering(withOverlay.Rgba, withoutOverlay.Rgba);
        Assert.True(differing > withOverlay.Width * withOverlay.Height / 10, $"only {differing} pixels changed");

        // Opacity slider to 0 makes the overlay vanish.
        await page.Locator("#opacity").FillAsync("0");
        var transparent = Png.Decode(await page.Locator("#face").ScreenshotAsync());
        Assert.True(CountDiffering(transparent.Rgba, withoutOverlay.Rgba) < withOverlay.Width * withOverlay.Height / 100);
        await page.Locator("#opacity").FillAsync("60");

        // Click review with a comment.
        await page.FillAsync("#comment", "camera angle, not the person");
        await page.ClickAsync("#btn-escalate");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#queue li').length === 1");
        await page.WaitForSelectorAsync($"#queue li.selected[data-event-id='{older.EventId}']");

        // Keyboard triage of the next one.
        await page.Keyboard.PressAsync("d");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#queue li').length === 0");

        var first = (await server.Store.GetEventAsync(newer.EventId, CancellationToken.None))!;
        var second = (await server.Store.GetEventAsync(older.EventId, CancellationToken.None))!;
        Assert.Equal("escalated", first.Event.ReviewState);
        Assert.Equal(("escalate", "pat", "camera angle, not the person"), (first.Reviews[0].Action, first.Reviews[0].Actor, first.Reviews[0].Comment));
        Assert.Equal("dismissed", second.Event.ReviewState);
        Assert.Equal("pat", Assert.Single(second.Reviews).Actor);
        Assert.True(consoleErrors.Count == 0, string.Join("\n", consoleErrors));
    }

    [Fact]
    public async Task ReviewPage_EventWithoutHeatmap_ShowsNoHeatmap()
    {
        await using var server = await AuditServer.StartAsync();
        var e = TestEvents.Event(flagged: true);
        e.Heatmaps.Add(new Edge.Sync.Contract.Heatmap { TargetClass = "happy", CodecVersion = 1 }); // empty data
        await server.IngestAsync(e);
        var token = await server.TokenAsync(Roles.Supervisor);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(server.BaseAddress, "/review/").ToString());
        await page.FillAsync("#token", token);
        await page.ClickAsync("#signin-button");
        await page.WaitForSelectorAsync("#event:not([hidden])");

        Assert.True(await page.Locator("#no-heatmap").IsVisibleAsync());
        Assert.Equal("no heatmap", await page.TextContentAsync("#no-heatmap"));
        Assert.Equal("none", await page.GetAttributeAsync("#kiosk-drift", "data-level"));
        Assert.Contains("no drift report from this kiosk", await page.TextContentAsync("#kiosk-drift"), StringComparison.Ordinal);
        Assert.True(await page.Locator("#drift-empty").IsVisibleAsync());
        var pixels = await page.EvaluateAsync<int>(
            "() => { const c = document.getElementById('overlay'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }");
        Assert.Equal(0, pixels);
    }

    [Fact]
    public async Task ReviewPage_EarlierSelectionAnswersLast_ShowsAndReviewsTheLatestSelection()
    {
        await using var server = await AuditServer.StartAsync();
        var (a, b, c) = await ThreeFlaggedAsync(server);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await SignedInAsync(browser, server, a.EventId);
        // B's detail is slow (large heatmaps, a busy store); C, selected after it, answers first.
        await page.RouteAsync($"**/api/v1/events/{b.EventId}", async route =>
        {
            await Task.Delay(800);
            await route.ContinueAsync();
        });
        var bAnswered = page.WaitForRequestFinishedAsync(new PageWaitForRequestFinishedOptions { Predicate = r => r.Url.EndsWith("/api/v1/events/" + b.EventId, StringComparison.Ordinal) });

        await page.Keyboard.PressAsync("j");
        await page.Keyboard.PressAsync("j");
        await page.WaitForSelectorAsync($"#event-meta:has-text('{c.EventId}')");
        await bAnswered;
        await page.EvaluateAsync("() => new Promise(done => setTimeout(done, 200))"); // B's answer has been handled
        Assert.Contains(c.EventId, await page.TextContentAsync("#event-meta"), StringComparison.Ordinal);
        Assert.Equal(c.EventId, await page.GetAttributeAsync("#queue li.selected", "data-event-id"));
        await page.Keyboard.PressAsync("d");
        await page.WaitForSelectorAsync($"#review-status:has-text('dismiss recorded for {c.EventId}')");

        var shownWhenDismissed = (await server.Store.GetEventAsync(c.EventId, CancellationToken.None))!;
        Assert.Equal("dismissed", shownWhenDismissed.Event.ReviewState);
        var skipped = (await server.Store.GetEventAsync(b.EventId, CancellationToken.None))!;
        Assert.Equal("open", skipped.Event.ReviewState);
        Assert.Empty(skipped.Reviews);
    }

    [Fact]
    public async Task ReviewPage_ReviewKeyPressedTwice_RecordsOneReviewAndKeepsTheNextEvent()
    {
        await using var server = await AuditServer.StartAsync();
        var (a, b, c) = await ThreeFlaggedAsync(server);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await SignedInAsync(browser, server, a.EventId);
        // The store takes its time, so that the second press lands while the first review is being recorded.
        await page.RouteAsync("**/reviews", async route =>
        {
            await Task.Delay(300);
            await route.ContinueAsync();
        });

        await page.Keyboard.PressAsync("r");
        await page.Keyboard.PressAsync("r");
        await page.WaitForSelectorAsync($"#event-meta:has-text('{b.EventId}')");

        var reviewed = (await server.Store.GetEventAsync(a.EventId, CancellationToken.None))!;
        Assert.Single(reviewed.Reviews);
        Assert.Equal([b.EventId, c.EventId], await page.Locator("#queue li").EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.eventId)"));
        Assert.Equal("open", (await server.Store.GetEventAsync(b.EventId, CancellationToken.None))!.Event.ReviewState);
    }

    /// <summary>Three flagged events, newest first in the queue: a, b, c.</summary>
    private static async Task<(Edge.Sync.Contract.FaceEvent A, Edge.Sync.Contract.FaceEvent B, Edge.Sync.Contract.FaceEvent C)> ThreeFlaggedAsync(AuditServer server)
    {
        var a = TestEvents.Event(at: TestEvents.T0.AddHours(3), happy: 0.05f, flagged: true, crop: true);
        var b = TestEvents.Event(at: TestEvents.T0.AddHours(2), happy: 0.06f, flagged: true, crop: true);
        var c = TestEvents.Event(at: TestEvents.T0.AddHours(1), happy: 0.07f, flagged: true, crop: true);
        await server.IngestAsync(a, b, c);
        return (a, b, c);
    }

    /// <summary>A supervisor signed in to the review page, with <paramref name="first"/> selected and shown.</summary>
    private static async Task<IPage> SignedInAsync(IBrowser browser, AuditServer server, string first)
    {
        var token = await server.TokenAsync(Roles.Supervisor, "pat");
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(server.BaseAddress, "/review/").ToString());
        await page.FillAsync("#token", token);
        await page.ClickAsync("#signin-button");
        await page.WaitForSelectorAsync($"#event-meta:has-text('{first}')");
        return page;
    }

    /// <summary>Pixels whose red-minus-blue rose by more than 40 from <paramref name="before"/> to <paramref name="after"/>.</summary>
    private static int CountReddened(byte[] after, byte[] before)
    {
        var n = 0;
        for (var i = 0; i < Math.Min(after.Length, before.Length); i += 4)
        {
            if ((after[i] - after[i + 2]) - (before[i] - before[i + 2]) > 40)
            {
                n++;
            }
        }

        return n;
    }

    private static int CountDiffering(byte[] a, byte[] b)
    {
        var n = 0;
        for (var i = 0; i < Math.Min(a.Length, b.Length); i += 4)
        {
            if (Math.Abs(a[i] - b[i]) + Math.Abs(a[i + 1] - b[i + 1]) + Math.Abs(a[i + 2] - b[i + 2]) > 30)
            {
                n++;
            }
        }

        return n;
    }
}
