using Edge.Audit.Security;
using Edge.Sync.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Audit.Api;

/// <summary>
/// <c>GET /metrics</c>: Prometheus text of the <c>Edge.Audit*</c> meters, through the exporter the kiosk uses
/// (Edge.Sync's <see cref="PrometheusExporter"/>). It sits on the API listener behind the same tokens: role
/// <c>metrics</c> (a scrape token that can read nothing else) or <c>admin</c>.
/// </summary>
public static class MetricsEndpoint
{
    public static IServiceCollection AddEdgeAuditMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddSingleton<PrometheusExporter>();
        return services;
    }

    public static IEndpointRouteBuilder MapAuditMetrics(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", (PrometheusExporter exporter) => TypedResults.Text(exporter.Scrape(), PrometheusExporter.ContentType))
            .RequireAuthorization(Policies.Metrics);
        return app;
    }
}
