using Edge.Host.Options;
using Edge.Host.Pipeline;
using Edge.Host.Stages;
using Edge.Host.Trust;
using Edge.Sync;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Edge.Host;

/// <summary>Registers the real stages that live in other assemblies, adapted to the pipeline's seams.</summary>
internal static class StageRegistration
{
    public static IServiceCollection AddEdgeStages(this IServiceCollection services, IConfiguration configuration)
    {
        // Sync: the SQLite outbox + MQTT publisher. Its ids default to Kiosk:SiteId/KioskId so they are set once.
        services.AddEdgeSync(configuration);
        services.AddOptions<EdgeSyncOptions>().PostConfigure<IOptions<KioskOptions>>((sync, kiosk) =>
        {
            if (string.IsNullOrEmpty(sync.SiteId))
            {
                sync.SiteId = kiosk.Value.SiteId;
            }

            if (string.IsNullOrEmpty(sync.KioskId))
            {
                sync.KioskId = kiosk.Value.KioskId;
            }
        });
        services.AddSingleton<IFaceEventSink, SyncEventSink>();
        services.AddHealthChecks().AddCheck<SyncHealthCheck>("sync");

        // Trust: drift watch + in-operation occlusion check (off unless Drift:Enabled), see Trust/README.md.
        services.AddEdgeTrust(configuration);

        // TODO(integration): Edge.Explain's FaceAnalyzer (detector + scorer) and explainer.
        return services;
    }
}
