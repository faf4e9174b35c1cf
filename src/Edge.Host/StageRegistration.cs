using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Host;

/// <summary>Registers the real stages that live in other assemblies, adapted to the pipeline's seams.</summary>
internal static class StageRegistration
{
    public static IServiceCollection AddEdgeStages(this IServiceCollection services, IConfiguration configuration)
    {
        // TODO(integration): Edge.Explain's FaceAnalyzer (detector + scorer) and explainer, Edge.Sync's outbox.
        // Until those stages are merged, `edge run` stops at start saying which one is missing.
        _ = configuration;
        return services;
    }
}
