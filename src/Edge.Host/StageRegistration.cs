using Edge.Explain.Faces;
using Edge.Host.Options;
using Edge.Onnx;
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

        // Explain: ONNX Runtime, BlazeFace detector + emotion scorer (sections Onnx and Faces).
        services.AddEdgeOnnx(configuration);
        services.AddEdgeFaces(configuration);
        services.AddSingleton<IFaceAnalyzer, FaceAnalyzerAdapter>();

        // Explain: the compiled LRP explainer, only when the policy explains anything (compiling costs start time)
        var pipeline = configuration.GetSection(PipelineOptions.SectionName).Get<PipelineOptions>() ?? new PipelineOptions();
        if (pipeline.Explain != ExplainMode.None)
        {
            services.AddSingleton<IFaceExplainer, LrpFaceExplainer>();
        }

        // Trust: drift watch + in-operation occlusion check (off unless Drift:Enabled), see Trust/README.md.
        services.AddEdgeTrust(configuration);
        return services;
    }
}
