using Edge.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Ingest;

/// <summary>
/// The thin MQTT edge of ingest: one connection (Edge.Sync's libmosquitto transport), a shared subscription to every
/// kiosk's events so several audit instances split the load, and a plain subscription to statuses (MQTT 5 does not
/// deliver retained messages to shared subscriptions, and the retained status is what tells a new instance who is
/// online; status upserts are idempotent, so every instance taking them is harmless). Each message goes to the
/// pipeline; when its queue is full the handler waits, which stops reading from the socket (TCP backpressure).
/// </summary>
public sealed class MqttIngestService(
    IngestPipeline pipeline,
    IOptions<AuditOptions> options,
    ILoggerFactory loggers,
    TimeProvider time,
    Drift.DriftIngest? drift = null) : BackgroundService
{
    public const string EventsFilter = "edge/v1/+/+/events";
    public const string StatusFilter = "edge/v1/+/+/status";

    private readonly ILogger _logger = loggers.CreateLogger<MqttIngestService>();
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once both subscriptions are acknowledged (tests wait on it).</summary>
    public Task Subscribed => _subscribed.Task;

    public static string SharedEventsFilter(string group) => $"$share/{group}/{EventsFilter}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Mqtt;
        var broker = o.ToBrokerOptions();
        await using var transport = new MosquittoTransport(broker, loggers.CreateLogger<MosquittoTransport>(), time);
        try
        {
            await transport.ConnectAsync(stoppingToken);
            var eventsFilter = SharedEventsFilter(o.SharedGroup);
            await transport.SubscribeAsync(eventsFilter, MqttQos.AtLeastOnce, HandleAsync, stoppingToken);
            Log.Subscribed(_logger, eventsFilter);
            await transport.SubscribeAsync(StatusFilter, MqttQos.AtLeastOnce, HandleAsync, stoppingToken);
            Log.Subscribed(_logger, StatusFilter);
            if (drift is not null)
            {
                // drift statuses are retained too, so a plain subscription (see Drift/DriftIngest.cs)
                await transport.SubscribeAsync(Drift.DriftIngest.Filter, MqttQos.AtLeastOnce, drift.HandleAsync, stoppingToken);
                Log.Subscribed(_logger, Drift.DriftIngest.Filter);
            }

            _subscribed.TrySetResult();
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _subscribed.TrySetCanceled(stoppingToken);
        }
        catch (MqttTransportException ex)
        {
            // A refused subscription (ACL) is a configuration error: fail the host so it is seen.
            Log.MqttProblem(_logger, ex.Message);
            _subscribed.TrySetException(ex);
            throw;
        }
        finally
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            try
            {
                await transport.DisconnectAsync(grace.Token);
            }
            catch (Exception ex) when (ex is MqttTransportException or OperationCanceledException or TimeoutException)
            {
                Log.MqttProblem(_logger, "disconnect: " + ex.Message);
            }
        }
    }

    private async ValueTask HandleAsync(MqttMessage message, CancellationToken cancellationToken) =>
        await pipeline.SubmitAsync(message.Topic, message.Payload, cancellationToken);
}

public static class MqttIngestExtensions
{
    /// <summary>The MQTT subscription, when Audit:Mqtt:Enabled (default true).</summary>
    public static IServiceCollection AddEdgeAuditMqtt(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration.GetSection(AuditOptions.Section).GetValue("Mqtt:Enabled", true))
        {
            services.AddSingleton<MqttIngestService>();
            services.AddHostedService(sp => sp.GetRequiredService<MqttIngestService>());
        }

        return services;
    }
}
