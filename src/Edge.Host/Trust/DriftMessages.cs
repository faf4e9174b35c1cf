using Edge.Explain.Drift;
using Edge.Sync.Contract;

namespace Edge.Host.Trust;

/// <summary>A <see cref="DriftReport"/> as the wire's <see cref="DriftStatus"/>.</summary>
public static class DriftMessages
{
    public const uint SchemaVersion = 1;

    public static DriftStatus ToProto(DriftReport report, string siteId, string kioskId, string modelSha256, DriftBaseline baseline, DriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(options);
        var m = new DriftStatus
        {
            SchemaVersion = SchemaVersion,
            SiteId = siteId,
            KioskId = kioskId,
            TimeUnixMs = report.Time.ToUnixTimeMilliseconds(),
            Level = Name(report.Level),
            WindowFaces = (uint)report.WindowFaces,
            FacesSeen = (ulong)report.FacesSeen,
            OcclusionChecks = (uint)report.OcclusionChecks,
            OcclusionDisagreements = (uint)report.OcclusionDisagreements,
            OcclusionDisagreementShare = report.OcclusionChecks == 0 ? -1 : report.OcclusionDisagreementShare,
            OcclusionChecksTotal = (ulong)report.OcclusionChecksTotal,
            ModelSha256 = modelSha256,
            BaselineCapturedAt = baseline.CapturedAt,
            WarnPsi = options.WarnPsi,
            AlertPsi = options.AlertPsi,
        };
        foreach (var s in report.Signals)
        {
            m.Signals.Add(new Edge.Sync.Contract.SignalDrift { Name = s.Name, Psi = s.Psi, Kl = s.Kl, Level = Name(s.Level) });
        }

        return m;
    }

    public static string Name(DriftLevel level) => level switch
    {
        DriftLevel.Ok => "ok",
        DriftLevel.Warn => "warn",
        DriftLevel.Alert => "alert",
        _ => "insufficient",
    };
}
