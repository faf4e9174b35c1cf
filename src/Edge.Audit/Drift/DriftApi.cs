using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Audit.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Audit.Drift;

/// <summary>One kiosk's drift as the API shows it, with the audit store's flag.</summary>
public sealed record KioskDriftDto(
    string SiteId,
    string KioskId,
    DateTimeOffset Time,
    DateTimeOffset Received,
    string Level,
    long WindowFaces,
    string WorstSignal,
    double WorstPsi,
    long OcclusionChecks,
    long OcclusionDisagreements,
    double? OcclusionDisagreementShare,
    string ModelSha256,
    IReadOnlyDictionary<string, double> Psi,
    bool Flagged,
    string FlagReason);

/// <summary><c>GET /api/v1/drift</c> (any reading role): each kiosk's latest drift status, flagged when it needs a look.</summary>
public static class DriftApi
{
    /// <summary>At least this many recent occlusion checks before their disagreement share can flag a kiosk.</summary>
    public const int MinOcclusionChecks = 20;

    /// <summary>A disagreement share above this flags the kiosk (a faithful heatmap disagrees far less than half the time).</summary>
    public const double OcclusionFlagShare = 0.5;

    public static IServiceCollection AddEdgeAuditDrift(this IServiceCollection services)
    {
        services.AddSingleton<KioskDriftStore>();
        services.AddSingleton<DriftIngest>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Add(DriftApiJsonContext.Default));
        return services;
    }

    public static IEndpointRouteBuilder MapAuditDrift(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1").RequireAuthorization(Policies.ReadEvents).MapGet("/drift", ListAsync);
        return app;
    }

    public static KioskDriftDto ToDto(KioskDriftRow r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var psi = JsonSerializer.Deserialize(r.SignalsJson, DriftApiJsonContext.Default.DictionaryStringDouble) ?? [];
        var reasons = new List<string>();
        if (r.Level is "warn" or "alert")
        {
            reasons.Add($"drift {r.Level}: {r.WorstSignal} PSI {r.WorstPsi:F2}");
        }

        if (r.OcclusionChecks >= MinOcclusionChecks && r.OcclusionShare > OcclusionFlagShare)
        {
            reasons.Add($"heatmaps disagree with occlusion in {r.OcclusionDisagreements}/{r.OcclusionChecks} checks");
        }

        return new KioskDriftDto(
            r.SiteId, r.KioskId,
            DateTimeOffset.FromUnixTimeMilliseconds(r.TimeUnixMs), DateTimeOffset.FromUnixTimeMilliseconds(r.ReceivedUnixMs),
            r.Level, r.WindowFaces, r.WorstSignal, r.WorstPsi, r.OcclusionChecks, r.OcclusionDisagreements,
            r.OcclusionChecks == 0 ? null : r.OcclusionShare, r.ModelSha256, psi, reasons.Count > 0, string.Join("; ", reasons));
    }

    private static async Task<Ok<List<KioskDriftDto>>> ListAsync(KioskDriftStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok((await store.ListAsync(cancellationToken)).Select(ToDto).ToList());
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<KioskDriftDto>))]
[JsonSerializable(typeof(Dictionary<string, double>))]
internal sealed partial class DriftApiJsonContext : JsonSerializerContext;
