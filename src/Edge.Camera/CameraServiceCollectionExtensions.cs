using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Edge.Camera;

public static class CameraServiceCollectionExtensions
{
    /// <summary>
    /// The camera stage: <see cref="CameraOptions"/> bound from <c>Camera</c> and validated at start,
    /// <see cref="CameraMetrics"/>, and an ffmpeg <see cref="IFrameSource"/>. Register an
    /// <see cref="ICaptureGate"/>/<see cref="ICaptureIndicator"/> first to gate capture (e.g. GPIO).
    /// </summary>
    public static IServiceCollection AddEdgeCamera(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CameraOptions>().Bind(configuration.GetSection(CameraOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CameraOptions>, CameraOptionsValidator>());
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<CameraMetrics>();
        services.TryAddSingleton<ICaptureGate>(AlwaysOpenGate.Instance);
        services.TryAddSingleton<ICaptureIndicator>(NoCaptureIndicator.Instance);
        services.TryAddSingleton<IFrameSource, FfmpegFrameSource>();
        return services;
    }
}
