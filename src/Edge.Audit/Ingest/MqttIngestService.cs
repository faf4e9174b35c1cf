using Microsoft.Extensions.DependencyInjection;

namespace Edge.Audit.Ingest;

public static class MqttIngestExtensions
{
    /// <summary>The MQTT subscription (filled in when Edge.Sync's transport lands).</summary>
    public static IServiceCollection AddEdgeAuditMqtt(this IServiceCollection services) => services;
}
