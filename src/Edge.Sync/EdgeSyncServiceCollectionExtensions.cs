using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Edge.Sync.Outbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;

namespace Edge.Sync;

/// <summary>Registers Edge.Sync: options (validated at start), outbox, MQTT transport, event sink, publisher service, health and metrics.</summary>
public static class EdgeSyncServiceCollectionExtensions
{
    /// <summary>
    /// Adds Edge.Sync bound to the <c>Sync</c> section of <paramref name="configuration"/>. Producers take <see cref="IEventSink"/>;
    /// the host reads <see cref="SyncHealth"/> for <c>/healthz</c> and listens to the <c>Edge.Sync</c> meter for <c>/metrics</c>.
    /// </summary>
    public static IServiceCollection AddEdgeSync(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EdgeSyncOptions>()
            .Bind(configuration.GetSection(EdgeSyncOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EdgeSyncOptions>, EdgeSyncOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<SyncHealth>();
        services.TryAddSingleton(sp => new SyncMetrics(sp.GetService<IMeterFactory>(), sp.GetRequiredService<SyncHealth>()));
        services.TryAddSingleton(sp => new Uuid7Generator(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => SqliteOutbox.Open(
            sp.GetRequiredService<IOptions<EdgeSyncOptions>>().Value.Outbox,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SqliteOutbox>>(),
            sp.GetRequiredService<SyncMetrics>()));
        services.TryAddSingleton<IMqttTransport>(sp => new MosquittoTransport(
            sp.GetRequiredService<IOptions<EdgeSyncOptions>>().Value.EffectiveBroker(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<SyncHealth>()),
            sp.GetRequiredService<ILogger<MosquittoTransport>>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IEventSink, OutboxEventSink>();
        services.AddHostedService<OutboxPublisherService>();
        return services;
    }
}
