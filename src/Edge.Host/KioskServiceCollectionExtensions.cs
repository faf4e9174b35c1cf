using Edge.Camera;
using Edge.Host.Gpio;
using Edge.Host.Health;
using Edge.Host.Options;
using Edge.Host.Pipeline;
using Edge.Host.Systemd;
using Edge.Sync.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Edge.Host;

public static class KioskServiceCollectionExtensions
{
    /// <summary>
    /// The kiosk composition: options per stage validated at start, the camera stage, the host-owned channels,
    /// the pipeline, the publisher to the outbox, health checks, the Prometheus exporter, systemd notify and
    /// (when Gpio:Enabled) the presence gate and capture LED. The analyzer, explainer and event sink come from
    /// their stages' own registrations.
    /// </summary>
    public static IServiceCollection AddEdgeKiosk(this IServiceCollection services, IConfiguration configuration)
    {
        AddValidated<KioskOptions, KioskOptionsValidator>(services, configuration, KioskOptions.SectionName);
        AddValidated<HttpOptions, HttpOptionsValidator>(services, configuration, HttpOptions.SectionName);
        AddValidated<PipelineOptions, PipelineOptionsValidator>(services, configuration, PipelineOptions.SectionName);
        AddValidated<FlagOptions, FlagOptionsValidator>(services, configuration, FlagOptions.SectionName);
        AddValidated<GpioOptions, GpioOptionsValidator>(services, configuration, GpioOptions.SectionName);
        services.AddOptions<SystemdOptions>().Bind(configuration.GetSection(SystemdOptions.SectionName)).ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(SystemdEnvironment.FromProcess());
        services.AddSingleton<SystemdService>();
        services.AddHostedService(sp => sp.GetRequiredService<SystemdService>());

        var gpio = configuration.GetSection(GpioOptions.SectionName).Get<GpioOptions>() ?? new GpioOptions();
        if (gpio.Enabled)
        {
            services.TryAddSingleton<IGpioDriver, LibGpiodDriver>();
            if (gpio.PresenceLine >= 0)
            {
                services.AddSingleton<GpioPresenceGate>();
                services.AddSingleton<ICaptureGate>(sp => sp.GetRequiredService<GpioPresenceGate>());
                services.AddHostedService(sp => sp.GetRequiredService<GpioPresenceGate>());
            }

            if (gpio.LedLine >= 0)
            {
                services.AddSingleton<ICaptureIndicator, GpioCaptureLed>();
            }
        }

        services.AddEdgeCamera(configuration);

        services.AddSingleton<PipelineChannels>();
        services.AddSingleton<PipelineStatus>();
        services.AddSingleton<PipelineMetrics>();
        services.AddSingleton<FaceEventFactory>();
        services.AddSingleton<FacePipeline>();
        // stop order is the reverse: camera first, then the pipeline drains, then the publisher hands on the rest
        services.AddHostedService<PublisherService>();
        services.AddHostedService<PipelineService>();
        services.AddHostedService<CameraService>();

        services.AddSingleton<PrometheusExporter>();
        services.AddHealthChecks()
            .AddCheck<CameraHealthCheck>("camera")
            .AddCheck<PipelineHealthCheck>("pipeline")
            .AddCheck<EventsHealthCheck>("events");
        return services;
    }

    private static void AddValidated<TOptions, TValidator>(IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
    }
}
