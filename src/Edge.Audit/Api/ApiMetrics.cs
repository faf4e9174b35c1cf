using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Audit.Api;

/// <summary>
/// HTTP requests on the <c>Edge.Audit.Api</c> meter: <c>edge.audit.http.requests</c> (tags method, route template, status)
/// and <c>edge.audit.http.rejected</c> (tag status: 400 bad filter or body, 401, 403, 404, 413 body too large), the latter
/// also kept as totals for <c>GET /api/v1/admin/http-rejects</c>.
/// </summary>
public sealed class ApiMetrics : IDisposable
{
    public const string MeterName = "Edge.Audit.Api";

    private static readonly HashSet<string> KnownMethods = new(StringComparer.Ordinal) { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _rejected;
    private readonly ConcurrentDictionary<int, long> _byStatus = new();

    public ApiMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _requests = _meter.CreateCounter<long>("edge.audit.http.requests", "{request}", "HTTP requests answered, by method, route template and status");
        _rejected = _meter.CreateCounter<long>("edge.audit.http.rejected", "{request}", "Refused HTTP requests (4xx), by status");
    }

    /// <summary>Counts one answered request. The tags stay few: a route template (or <c>unmatched</c>) and a known method (or <c>other</c>).</summary>
    public void Count(string method, string route, int status)
    {
        var statusText = status.ToString(CultureInfo.InvariantCulture);
        _requests.Add(1,
            new KeyValuePair<string, object?>("method", KnownMethods.Contains(method) ? method : "other"),
            new KeyValuePair<string, object?>("route", route),
            new KeyValuePair<string, object?>("status", statusText));
        if (status is >= 400 and < 500)
        {
            _byStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
            _rejected.Add(1, new KeyValuePair<string, object?>("status", statusText));
        }
    }

    public Dictionary<string, long> RejectsSnapshot() =>
        _byStatus.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => kv.Value);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    /// <summary>
    /// Counts every request after the pipeline ran (so authentication, binding and Kestrel limits are included). The
    /// instruments are created here, at start, so /metrics announces them before the first request is counted.
    /// </summary>
    public static IApplicationBuilder UseApiMetrics(IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var metrics = app.ApplicationServices.GetRequiredService<ApiMetrics>();
        return app.Use(async (context, next) =>
        {
            await next(context);
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            metrics.Count(context.Request.Method, route, context.Response.StatusCode);
        });
    }
}
