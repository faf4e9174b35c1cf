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
/// <para>
/// The transport holds each message's PUBACK until the pipeline acknowledges it (<see cref="MqttBrokerOptions.AckAfterHandled"/>):
/// after the commit that stores it, or at once when it is rejected. Until then the broker keeps the message in this
/// client's session, so a crash of the service loses nothing: the next start with the same client id gets it again.
/// </para>
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

    /// <summary>Completes once the subscriptions are acknowledged (tests wait on it).</summary>
    public Task Subscribed => _subscribed.Task;

    public static string SharedEventsFilter(string group) => $"$share/{group}/{EventsFilter}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Mqtt;
        var broker = o.ToBrokerOptions();
        await using var transport = new MosquittoTransport(broker, loggers.CreateLogger<MosquittoTransport>(), time);
        var acknowledge = (Action<long>)transport.Acknowledge;
        ValueTask Submit(MqttMessage message, CancellationToken cancellationToken) => SubmitAsync(message, acknowledge, cancellationToken);
        void OnWaitChanged(object? sender, bool waiting) => pipeline.SetUpstreamWaiting(waiting);
        transport.AcknowledgementWaitChanged += OnWaitChanged;
        try
        {
            // Subscribe first, then connect: what the broker sends again right after CONNACK (this session's unacknowledged
            // messages) must find its handler. The SUBACKs come once those are stored: the SUBSCRIBEs wait behind their PUBACKs.
            var eventsFilter = SharedEventsFilter(o.SharedGroup);
            List<(string Filter, Task Sent)> subscriptions =
            [
                (eventsFilter, transport.SubscribeAsync(eventsFilter, MqttQos.AtLeastOnce, Submit, MqttAcknowledgement.ByConsumer, stoppingToken)),
                (StatusFilter, transport.SubscribeAsync(StatusFilter, MqttQos.AtLeastOnce, Submit, MqttAcknowledgement.ByConsumer, stoppingToken)),
            ];
            if (drift is not null)
            {
                // drift statuses are retained too, so a plain subscription (see Drift/DriftIngest.cs); handled = stored
                subscriptions.Add((Drift.DriftIngest.Filter, transport.SubscribeAsync(Drift.DriftIngest.Filter, MqttQos.AtLeastOnce, drift.HandleAsync, stoppingToken)));
            }

            await transport.ConnectAsync(stoppingToken);
            try
            {
                await Task.WhenAll(subscriptions.Select(s => s.Sent));
                foreach (var (filter, _) in subscriptions)
                {
                    Log.Subscribed(_logger, filter);
                }

                _subscribed.TrySetResult();
            }
            catch (TimeoutException ex)
            {
                // The SUBACK waits behind PUBACKs of messages the store has not committed yet (a slow or failing store).
                // The SUBSCRIBE goes out once they are stored, and the subscriptions are sent again after every reconnect.
                Log.MqttProblem(_logger, ex.Message + "; the subscription stays registered");
            }

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
                // Waits (up to half the connect timeout) for the writer to commit what was delivered, then says goodbye;
                // anything still unstored then is dropped unacknowledged, and the broker keeps it for the next start.
                await transport.DisconnectAsync(grace.Token);
            }
            catch (Exception ex) when (ex is MqttTransportException or OperationCanceledException or TimeoutException)
            {
                Log.MqttProblem(_logger, "disconnect: " + ex.Message);
            }

            transport.AcknowledgementWaitChanged -= OnWaitChanged;
            pipeline.SetUpstreamWaiting(false);
        }
    }

    private async ValueTask SubmitAsync(MqttMessage message, Action<long> acknowledge, CancellationToken cancellationToken) =>
        await pipeline.SubmitAsync(message.Topic, message.Payload, new IngestAck(acknowledge, message.Sequence), cancellationToken);
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
