using System.Globalization;
using System.Security.Claims;
using System.Text;
using Edge.Audit.Hosting;
using Edge.Audit.Ingest;
using Edge.Audit.Security;
using Edge.Audit.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Api;

/// <summary>Query-string filters; parsed by hand so every bad value gets a clear validation message.</summary>
public sealed class EventFilterParameters
{
    public string? Site { get; set; }
    public string? Kiosk { get; set; }
    public string? From { get; set; }
    public string? To { get; set; }
    public string? Flagged { get; set; }
    public string? Class { get; set; }
    public string? State { get; set; }
    public string? Limit { get; set; }
    public string? Cursor { get; set; }
}

public static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").AddEndpointFilter(RejectNulCharacters);

        var read = api.MapGroup("").RequireAuthorization(Policies.ReadEvents);
        read.MapGet("/events", ListEvents);
        read.MapGet("/events/{eventId}", GetEvent);
        read.MapGet("/flagged", ListFlagged);
        read.MapGet("/kiosks", ListKiosks);
        read.MapGet("/kiosks/{site}/{kiosk}/timeline", Timeline);
        read.MapGet("/me", (ClaimsPrincipal user) => TypedResults.Ok(new WhoAmIDto(user.Identity!.Name!, user.FindFirstValue(ClaimTypes.Role)!)));

        api.MapPost("/events/{eventId}/reviews", AddReview).RequireAuthorization(Policies.Review);

        var analytics = api.MapGroup("").RequireAuthorization(Policies.Analytics);
        analytics.MapGet("/summaries", GetSummaries);
        analytics.MapGet("/export.csv", Export);

        var admin = api.MapGroup("/admin").RequireAuthorization(Policies.Admin);
        admin.MapPost("/tokens", CreateToken);
        admin.MapGet("/tokens", ListTokens);
        admin.MapDelete("/tokens/{id:long}", RevokeToken);
        admin.MapPost("/retention/run", RunRetention);
        admin.MapGet("/ingest", (IngestStats stats) => TypedResults.Ok(stats.Snapshot()));
        admin.MapGet("/http-rejects", (ApiMetrics http) => TypedResults.Ok(http.RejectsSnapshot()));

        app.MapGet("/healthz", () => TypedResults.Ok(new HealthDto("ok")));
        return app;
    }

    /// <summary>
    /// A query value holding U+0000 is refused with 400 naming it: PostgreSQL's text refuses NUL (a 500 there) where
    /// SQLite would take it. (Kestrel already refuses a NUL in the path.)
    /// </summary>
    private static async ValueTask<object?> RejectNulCharacters(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var bad = context.HttpContext.Request.Query.Where(q => q.Value.Any(HasNul)).ToDictionary(q => q.Key, _ => new[] { NoNul });
        return bad.Count == 0 ? await next(context) : TypedResults.ValidationProblem(bad);
    }

    private const string NoNul = "must not contain NUL characters";

    private static bool HasNul(string? value) => value?.Contains('\0', StringComparison.Ordinal) == true;

    internal static bool TryParseFilter(EventFilterParameters p, int maxPage, out EventQuery query, out Dictionary<string, string[]> errors)
    {
        errors = [];
        query = new EventQuery();
        long? from = null, to = null;
        if (p.From is not null)
        {
            if (TryParseTime(p.From, out var f))
            {
                from = f;
            }
            else
            {
                errors["from"] = ["must be an ISO 8601 time, e.g. 2026-11-21T10:00:00Z"];
            }
        }

        if (p.To is not null)
        {
            if (TryParseTime(p.To, out var t))
            {
                to = t;
            }
            else
            {
                errors["to"] = ["must be an ISO 8601 time, e.g. 2026-11-21T11:00:00Z"];
            }
        }

        bool? flagged = null;
        if (p.Flagged is not null)
        {
            if (bool.TryParse(p.Flagged, out var b))
            {
                flagged = b;
            }
            else
            {
                errors["flagged"] = ["must be true or false"];
            }
        }

        if (p.Class is not null && ExpressionClasses.IndexOf(p.Class) < 0)
        {
            errors["class"] = ["must be one of " + string.Join(", ", ExpressionClasses.Names)];
        }

        if (p.State is not null && Array.IndexOf(ReviewActions.States, p.State) < 0)
        {
            errors["state"] = ["must be one of " + string.Join(", ", ReviewActions.States)];
        }

        var limit = 100;
        if (p.Limit is not null && (!int.TryParse(p.Limit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > maxPage))
        {
            errors["limit"] = [$"must be 1..{maxPage}"];
        }

        EventCursor? cursor = null;
        if (p.Cursor is not null && !TryDecodeCursor(p.Cursor, out cursor))
        {
            errors["cursor"] = ["is not a cursor this API returned"];
        }

        if (p.Site is { Length: > 256 } || p.Kiosk is { Length: > 256 })
        {
            errors["site"] = ["site and kiosk are at most 256 characters"];
        }

        query = new EventQuery
        {
            Site = p.Site, Kiosk = p.Kiosk, FromMs = from, ToMs = to, Flagged = flagged, TopClass = p.Class, ReviewState = p.State,
            Limit = limit, After = cursor,
        };
        return errors.Count == 0;
    }

    private static bool TryParseTime(string s, out long ms)
    {
        var ok = DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t);
        ms = ok ? t.ToUnixTimeMilliseconds() : 0;
        return ok;
    }

    internal static string EncodeCursor(EventRow last) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(FormattableString.Invariant($"{last.CapturedAtMs}.{last.Id}"))).TrimEnd('=');

    private static bool TryDecodeCursor(string s, out EventCursor? cursor)
    {
        cursor = null;
        try
        {
            var padded = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(padded));
            var parts = text.Split('.');
            if (parts.Length == 2 && long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                cursor = new EventCursor(ms, id);
                return true;
            }
        }
        catch (FormatException)
        {
        }

        return false;
    }

    private static async Task<Results<Ok<EventPageDto>, ValidationProblem>> ListEvents(
        [AsParameters] EventFilterParameters p, IAuditStore store, IOptions<AuditOptions> options, CancellationToken cancellationToken)
    {
        if (!TryParseFilter(p, options.Value.Http.MaxPageSize, out var query, out var errors))
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Ok(await PageAsync(store, query, cancellationToken));
    }

    private static async Task<Results<Ok<EventPageDto>, ValidationProblem>> ListFlagged(
        [AsParameters] EventFilterParameters p, IAuditStore store, IOptions<AuditOptions> options, CancellationToken cancellationToken)
    {
        if (!TryParseFilter(p, options.Value.Http.MaxPageSize, out var query, out var errors))
        {
            return TypedResults.ValidationProblem(errors);
        }

        query = query with { Flagged = true, ReviewState = query.ReviewState ?? "open" };
        return TypedResults.Ok(await PageAsync(store, query, cancellationToken));
    }

    private static async Task<EventPageDto> PageAsync(IAuditStore store, EventQuery query, CancellationToken cancellationToken)
    {
        var rows = await store.ListEventsAsync(query with { Limit = query.Limit + 1 }, cancellationToken);
        var items = rows.Take(query.Limit).ToList();
        var next = rows.Count > query.Limit ? EncodeCursor(items[^1]) : null;
        return new EventPageDto(items.Select(EventDto.From).ToList(), next);
    }

    private static async Task<Results<Ok<EventDetailDto>, NotFound<ProblemDetails>>> GetEvent(string eventId, IAuditStore store, CancellationToken cancellationToken)
    {
        var detail = eventId.Length <= 64 ? await store.GetEventAsync(eventId, cancellationToken) : null;
        return detail is null
            ? TypedResults.NotFound(new ProblemDetails { Title = "Not found", Status = 404, Detail = "No event with this id." })
            : TypedResults.Ok(EventDetailDto.From(detail));
    }

    private static async Task<Results<Created<ReviewDto>, ValidationProblem, NotFound<ProblemDetails>>> AddReview(
        string eventId, ReviewRequest request, ClaimsPrincipal user, IAuditStore store, TimeProvider time, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.Action is null || !ReviewActions.StateAfter.ContainsKey(request.Action))
        {
            errors["action"] = ["must be one of " + string.Join(", ", ReviewActions.StateAfter.Keys)];
        }

        var comment = request.Comment ?? string.Empty;
        if (comment.Length > 2000)
        {
            errors["comment"] = ["must be at most 2000 characters"];
        }
        else if (HasNul(comment))
        {
            errors["comment"] = [NoNul];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var actor = user.Identity!.Name!;
        var review = await store.AddReviewAsync(eventId, request.Action!, comment, actor, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        if (review is null)
        {
            return TypedResults.NotFound(new ProblemDetails { Title = "Not found", Status = 404, Detail = "No event with this id." });
        }

        Log.ReviewRecorded(loggers.CreateLogger("Edge.Audit.Review"), review.Action, eventId, actor);
        return TypedResults.Created($"/api/v1/events/{Uri.EscapeDataString(eventId)}", ReviewDto.From(review));
    }

    private static async Task<Results<Ok<SummaryResponseDto>, ValidationProblem>> GetSummaries(
        string? site, string? kiosk, string? from, string? to, string? groupBy, IAuditStore store, CancellationToken cancellationToken)
    {
        if (!TryParseFilter(new EventFilterParameters { Site = site, Kiosk = kiosk, From = from, To = to }, 1, out var q, out var errors))
        {
            return TypedResults.ValidationProblem(errors);
        }

        var groups = (groupBy ?? "site").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (groups.Any(g => g is not ("site" or "kiosk" or "hour")))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["groupBy"] = ["a comma list of site, kiosk, hour"] });
        }

        return TypedResults.Ok(await Summaries.ComputeAsync(store, new SummaryQuery(q.Site, q.Kiosk, q.FromMs, q.ToMs), groups, cancellationToken));
    }

    private static async Task<Results<Ok<List<TimelinePointDto>>, ValidationProblem>> Timeline(
        string site, string kiosk, string? from, string? to, IAuditStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!TryParseFilter(new EventFilterParameters { From = from, To = to }, 1, out var q, out var errors))
        {
            return TypedResults.ValidationProblem(errors);
        }

        var fromMs = q.FromMs ?? time.GetUtcNow().AddDays(-2).ToUnixTimeMilliseconds();
        var rows = await store.ReadRollupsAsync(new SummaryQuery(site, kiosk, fromMs, q.ToMs), hourly: true, cancellationToken);
        var points = rows.OrderBy(r => r.HourMs).Select(r => new TimelinePointDto(
            DateTimeOffset.FromUnixTimeMilliseconds(r.HourMs), r.Events, r.Events == 0 ? 0 : r.SumHappy / r.Events,
            r.Events == 0 ? 0 : (double)r.Flagged / r.Events)).ToList();
        return TypedResults.Ok(points);
    }

    private static async Task<Ok<List<KioskDto>>> ListKiosks(IAuditStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok((await store.ListKioskStatusAsync(cancellationToken)).Select(KioskDto.From).ToList());

    private static Results<PushStreamHttpResult, ValidationProblem> Export(
        [AsParameters] EventFilterParameters p, IAuditStore store, IOptions<AuditOptions> options, HttpContext context)
    {
        if (!TryParseFilter(WithoutPaging(p), options.Value.Http.MaxPageSize, out var query, out var errors))
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Stream(
            stream => Csv.WriteEventsAsync(stream, store.ExportEventsAsync(query, context.RequestAborted), context.RequestAborted),
            "text/csv; charset=utf-8", "events.csv");
    }

    private static EventFilterParameters WithoutPaging(EventFilterParameters p) => new()
    {
        Site = p.Site, Kiosk = p.Kiosk, From = p.From, To = p.To, Flagged = p.Flagged, Class = p.Class, State = p.State,
    };

    private static async Task<Results<Created<TokenCreatedDto>, ValidationProblem>> CreateToken(
        TokenCreateRequest request, IAuditStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Owner) || request.Owner.Length > 128)
        {
            errors["owner"] = ["must be 1..128 characters"];
        }
        else if (HasNul(request.Owner))
        {
            errors["owner"] = [NoNul];
        }

        if (!Roles.IsValid(request.Role))
        {
            errors["role"] = ["must be one of " + string.Join(", ", Roles.All)];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var (id, token) = await ApiTokens.CreateAsync(store, request.Owner!, request.Role!, time, cancellationToken);
        return TypedResults.Created($"/api/v1/admin/tokens/{id}", new TokenCreatedDto(id, request.Owner!, request.Role!, token));
    }

    private static async Task<Ok<List<TokenDto>>> ListTokens(IAuditStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok((await store.ListTokensAsync(cancellationToken)).Select(t => new TokenDto(
            t.Id, t.Owner, t.Role, DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedAtMs),
            t.RevokedAtMs is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null)).ToList());

    private static async Task<Results<NoContent, NotFound<ProblemDetails>>> RevokeToken(long id, IAuditStore store, TimeProvider time, CancellationToken cancellationToken) =>
        await store.RevokeTokenAsync(id, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.NotFound(new ProblemDetails { Title = "Not found", Status = 404, Detail = "No active token with this id." });

    private static async Task<Ok<RetentionResult>> RunRetention(RetentionService retention, CancellationToken cancellationToken) =>
        TypedResults.Ok(await retention.RunOnceAsync(cancellationToken));
}
