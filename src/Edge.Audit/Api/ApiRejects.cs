using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Audit.Api;

/// <summary>HTTP requests the API refused, counted by status (400 bad filter or body, 401, 403, 404, 413 body too large).</summary>
public sealed class ApiRejects : IDisposable
{
    private readonly Meter _meter = new("Edge.Audit.Api");
    private readonly Counter<long> _counter;
    private readonly ConcurrentDictionary<int, long> _byStatus = new();

    public ApiRejects() => _counter = _meter.CreateCounter<long>("edge_audit_http_rejected", description: "refused HTTP requests, by status");

    public void Count(int status)
    {
        _byStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
        _counter.Add(1, new KeyValuePair<string, object?>("status", status));
    }

    public Dictionary<string, long> Snapshot() =>
        _byStatus.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value);

    public void Dispose() => _meter.Dispose();

    /// <summary>Counts every 4xx the pipeline produced (after it ran, so authentication, binding and Kestrel limits are included).</summary>
    public static IApplicationBuilder UseApiRejectCounting(IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        await next(context);
        if (context.Response.StatusCode is >= 400 and < 500)
        {
            context.RequestServices.GetRequiredService<ApiRejects>().Count(context.Response.StatusCode);
        }
    });
}
