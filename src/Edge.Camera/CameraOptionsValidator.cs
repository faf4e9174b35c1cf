using Microsoft.Extensions.Options;

namespace Edge.Camera;

/// <summary>Range and cross-field rules for <see cref="CameraOptions"/>; every message names its configuration key.</summary>
public sealed class CameraOptionsValidator : IValidateOptions<CameraOptions>
{
    private static readonly string[] s_logLevels = ["quiet", "panic", "fatal", "error", "warning", "info", "verbose", "debug"];

    public ValidateOptionsResult Validate(string? name, CameraOptions options)
    {
        var failures = new List<string>();
        const string S = CameraOptions.SectionName;

        if (string.IsNullOrWhiteSpace(options.Source))
        {
            failures.Add($"{S}:Source is required (a /dev/videoN device, a file, a folder, a %d pattern or an rtsp/http URL)");
        }
        else if (SourceKinds.Resolve(options) == CameraSourceKind.Url && !IsWellFormedUrl(options.Source))
        {
            failures.Add($"{S}:Source '{options.Source}' is not a well-formed URL (expected scheme://host[:port]/path)");
        }

        Range(failures, $"{S}:Width", options.Width, 16, 4096);
        Range(failures, $"{S}:Height", options.Height, 16, 4096);
        if (!(options.Fps >= 1 && options.Fps <= 120))
        {
            failures.Add($"{S}:Fps must be between 1 and 120 (was {options.Fps})");
        }

        Range(failures, $"{S}:StallTimeout", options.StallTimeout, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(5));
        Range(failures, $"{S}:RestartDelay", options.RestartDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        Range(failures, $"{S}:RestartMaxDelay", options.RestartMaxDelay, options.RestartDelay, TimeSpan.FromMinutes(10));
        Range(failures, $"{S}:StableAfter", options.StableAfter, TimeSpan.Zero, TimeSpan.FromHours(1));
        Range(failures, $"{S}:NetworkTimeout", options.NetworkTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        Range(failures, $"{S}:ChannelCapacity", options.ChannelCapacity, 1, 64);
        Range(failures, $"{S}:StderrLogLines", options.StderrLogLines, 0, 10_000);
        Range(failures, $"{S}:StderrLogWindow", options.StderrLogWindow, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));

        if (options.RtspTransport is not ("tcp" or "udp"))
        {
            failures.Add($"{S}:RtspTransport must be 'tcp' or 'udp' (was '{options.RtspTransport}')");
        }

        if (!s_logLevels.Contains(options.FfmpegLogLevel))
        {
            failures.Add($"{S}:FfmpegLogLevel must be one of {string.Join(", ", s_logLevels)} (was '{options.FfmpegLogLevel}')");
        }

        if (string.IsNullOrWhiteSpace(options.FfmpegPath))
        {
            failures.Add($"{S}:FfmpegPath is required");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsWellFormedUrl(string source) =>
        Uri.TryCreate(source, UriKind.Absolute, out var uri)
        && uri.Scheme is "rtsp" or "rtsps" or "http" or "https"
        && !string.IsNullOrEmpty(uri.Host);

    private static void Range<T>(List<string> failures, string key, T value, T min, T max)
        where T : IComparable<T>
    {
        if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
        {
            failures.Add($"{key} must be between {min} and {max} (was {value})");
        }
    }
}
