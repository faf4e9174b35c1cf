using Microsoft.Extensions.Options;

namespace Edge.Explain.Drift;

/// <summary>Drift watch and the in-operation occlusion check (configuration section <c>Drift</c>).</summary>
public sealed class DriftOptions
{
    public const string SectionName = "Drift";

    /// <summary>Watch drift at all. Default false (a kiosk needs a commissioning baseline first).</summary>
    public bool Enabled { get; set; }

    /// <summary>The baseline captured at commissioning (<c>edge drift baseline</c>). Required when enabled.</summary>
    public string? BaselinePath { get; set; }

    /// <summary>How many recent faces form the window compared with the baseline. Default 500, 20–1,000,000.</summary>
    public int Window { get; set; } = 500;

    /// <summary>Fewer faces than this in the window: status "insufficient", no verdict. Default 100, ≥ 10 and ≤ Window.</summary>
    public int MinSamples { get; set; } = 100;

    /// <summary>PSI at or above which a signal is "warn". Default 0.1.</summary>
    public double WarnPsi { get; set; } = 0.1;

    /// <summary>PSI at or above which a signal is "alert". Default 0.25, must exceed WarnPsi.</summary>
    public double AlertPsi { get; set; } = 0.25;

    /// <summary>How often the drift status is computed and published. Default 1 minute, 1 s – 1 day.</summary>
    public TimeSpan PublishInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Share of explained faces that also get the occlusion check. Default 0.01, 0–1.</summary>
    public double OcclusionSampleRate { get; set; } = 0.01;

    /// <summary>Side of the occluding square on the 64×64 crop, in pixels. Default 16, 4–32.</summary>
    public int OcclusionPatch { get; set; } = 16;

    /// <summary>How many recent occlusion checks the disagreement share is taken over. Default 200, ≥ 1.</summary>
    public int OcclusionWindow { get; set; } = 200;

    /// <summary>Seed of the sampling and random-patch generator (reproducible replays). Default 1.</summary>
    public int Seed { get; set; } = 1;
}

/// <summary>Start-time validation of <see cref="DriftOptions"/>: every message names the key.</summary>
public sealed class DriftOptionsValidator : IValidateOptions<DriftOptions>
{
    public ValidateOptionsResult Validate(string? name, DriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var p = DriftOptions.SectionName;
        var errors = new List<string>();
        if (options.Enabled)
        {
            if (string.IsNullOrWhiteSpace(options.BaselinePath))
            {
                errors.Add($"{p}:BaselinePath is required when {p}:Enabled is true (capture one with 'edge drift baseline').");
            }
            else if (!File.Exists(options.BaselinePath))
            {
                errors.Add($"{p}:BaselinePath '{options.BaselinePath}' does not exist.");
            }
        }

        if (options.Window is < 20 or > 1_000_000)
        {
            errors.Add($"{p}:Window must be 20–1000000 (is {options.Window}).");
        }

        if (options.MinSamples < 10 || options.MinSamples > options.Window)
        {
            errors.Add($"{p}:MinSamples must be ≥ 10 and ≤ {p}:Window (is {options.MinSamples}).");
        }

        if (!(options.WarnPsi > 0) || !(options.AlertPsi > options.WarnPsi))
        {
            errors.Add($"{p}:WarnPsi must be > 0 and {p}:AlertPsi greater than it (are {options.WarnPsi}, {options.AlertPsi}).");
        }

        if (options.PublishInterval < TimeSpan.FromSeconds(1) || options.PublishInterval > TimeSpan.FromDays(1))
        {
            errors.Add($"{p}:PublishInterval must be 00:00:01–1.00:00:00 (is {options.PublishInterval}).");
        }

        if (!(options.OcclusionSampleRate >= 0 && options.OcclusionSampleRate <= 1))
        {
            errors.Add($"{p}:OcclusionSampleRate must be 0–1 (is {options.OcclusionSampleRate}).");
        }

        if (options.OcclusionPatch is < 4 or > 32)
        {
            errors.Add($"{p}:OcclusionPatch must be 4–32 pixels (is {options.OcclusionPatch}).");
        }

        if (options.OcclusionWindow < 1)
        {
            errors.Add($"{p}:OcclusionWindow must be ≥ 1 (is {options.OcclusionWindow}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
