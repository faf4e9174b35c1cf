using System.Diagnostics.Metrics;
using Edge.Explain.Drift;
using Edge.Explain.Faces;
using Edge.Host.Pipeline;
using Edge.Onnx.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Trust;

public static class TrustServiceCollectionExtensions
{
    /// <summary>
    /// Binds section <c>Drift</c> (validated at start). When <c>Drift:Enabled</c>: loads the commissioning baseline,
    /// observes every face (<see cref="DriftFaceObserver"/>), publishes the drift status, and exposes
    /// <c>edge_drift_psi{signal}</c>, <c>edge_drift_level</c> and <c>edge_occlusion_disagreement_share</c>.
    /// </summary>
    public static IServiceCollection AddEdgeTrust(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DriftOptions>().Bind(configuration.GetSection(DriftOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DriftOptions>, DriftOptionsValidator>());
        var enabled = configuration.GetSection(DriftOptions.SectionName).GetValue<bool>(nameof(DriftOptions.Enabled));
        if (!enabled)
        {
            return services;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<DriftOptions>>().Value;
            var baseline = DriftBaseline.Load(o.BaselinePath!);
            var monitor = new DriftMonitor(baseline, o, sp.GetRequiredService<TimeProvider>());
            Log.DriftWatchStarted(sp.GetRequiredService<ILoggerFactory>().CreateLogger("Edge.Host.Trust"), o.BaselinePath!, baseline.Faces, baseline.CapturedAt, o.Window, o.WarnPsi, o.AlertPsi, o.OcclusionSampleRate);
            RegisterMetrics(sp.GetRequiredService<IMeterFactory>(), monitor);
            return monitor;
        });
        services.AddSingleton(sp =>
        {
            var path = sp.GetRequiredService<IOptions<FaceAnalyzerOptions>>().Value.ResolvedScorerPath;
            return new ModelIdentity(File.Exists(path) ? ModelBuilder.Sha256File(path) : string.Empty);
        });
        services.AddSingleton<DriftFaceObserver>();
        services.AddSingleton<IFaceObserver>(sp => sp.GetRequiredService<DriftFaceObserver>());
        services.AddHostedService<DriftPublisherService>();
        return services;
    }

    private static void RegisterMetrics(IMeterFactory factory, DriftMonitor monitor)
    {
        var meter = factory.Create("Edge.Trust");
        meter.CreateObservableGauge("edge_drift_psi", () => monitor.Report().Signals.Select(s => new Measurement<double>(s.Psi, new KeyValuePair<string, object?>("signal", s.Name))), description: "PSI of each signal's recent window against the commissioning baseline");
        meter.CreateObservableGauge("edge_drift_level", () => (int)monitor.Report().Level, description: "0 insufficient, 1 ok, 2 warn, 3 alert");
        meter.CreateObservableGauge("edge_occlusion_disagreement_share", () =>
        {
            var r = monitor.Report();
            return r.OcclusionChecks == 0 ? [] : new[] { new Measurement<double>(r.OcclusionDisagreementShare) };
        }, description: "share of recent occlusion checks where the heatmap's top patch mattered less than a random patch");
    }
}
