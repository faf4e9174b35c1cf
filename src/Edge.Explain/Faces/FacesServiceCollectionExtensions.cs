using Edge.Onnx;
using Edge.Onnx.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Explain.Faces;

public static class FacesServiceCollectionExtensions
{
    /// <summary>
    /// Binds section <c>Faces</c> to <see cref="FaceAnalyzerOptions"/>, validates it at start (ranges and model
    /// files, each failure naming its key), and registers one <see cref="FaceAnalyzer"/>. Uses the
    /// <see cref="OrtEnvironment"/> and session settings (providers, optimisation) registered by <c>AddEdgeOnnx</c>
    /// when present, else creates a CPU environment.
    /// </summary>
    public static IServiceCollection AddEdgeFaces(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FaceAnalyzerOptions>().Bind(configuration.GetSection(FaceAnalyzerOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FaceAnalyzerOptions>, FaceAnalyzerOptionsValidator>());
        services.TryAddSingleton(sp => OrtEnvironment.Create(null, sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton(sp => new FaceAnalyzer(
            sp.GetRequiredService<IOptions<FaceAnalyzerOptions>>().Value,
            sp.GetRequiredService<OrtEnvironment>(),
            sp.GetService<ILogger<FaceAnalyzer>>(),
            sp.GetService<IOptions<OnnxRuntimeOptions>>()?.Value.ToSessionSettings()));
        return services;
    }
}
