using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Edge.Host.Options;

/// <summary>Who this kiosk is (section <c>Kiosk</c>); both ids go into MQTT topics and every event.</summary>
public sealed class KioskOptions
{
    public const string SectionName = "Kiosk";

    /// <summary>Site id, 1–64 of [A-Za-z0-9._-]. Required.</summary>
    public string SiteId { get; set; } = "";

    /// <summary>Kiosk id, 1–64 of [A-Za-z0-9._-]. Required.</summary>
    public string KioskId { get; set; } = "";
}

public sealed partial class KioskOptionsValidator : IValidateOptions<KioskOptions>
{
    public ValidateOptionsResult Validate(string? name, KioskOptions options)
    {
        var failures = new List<string>();
        Check(failures, "Kiosk:SiteId", options.SiteId);
        Check(failures, "Kiosk:KioskId", options.KioskId);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string key, string value)
    {
        if (!IdPattern().IsMatch(value))
        {
            failures.Add($"{key} must be 1–64 characters of A–Z a–z 0–9 . _ - (was '{value}')");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex IdPattern();
}
