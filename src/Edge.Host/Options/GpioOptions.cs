using Microsoft.Extensions.Options;

namespace Edge.Host.Options;

/// <summary>Kiosk hardware through libgpiod (section <c>Gpio</c>). Off by default.</summary>
public sealed class GpioOptions
{
    public const string SectionName = "Gpio";

    public bool Enabled { get; set; }

    /// <summary>GPIO chip name as libgpiod knows it. Default gpiochip0.</summary>
    public string Chip { get; set; } = "gpiochip0";

    /// <summary>Line offset of the presence sensor (PIR) input; -1: no sensor (capture always on). Default -1.</summary>
    public int PresenceLine { get; set; } = -1;

    /// <summary>The sensor reads 1 when someone is present. Default true.</summary>
    public bool PresenceActiveHigh { get; set; } = true;

    /// <summary>Capture keeps running this long after the sensor last saw someone. 0–10 min, default 10 s.</summary>
    public TimeSpan PresenceHold { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the sensor is read. 10 ms–5 s, default 100 ms.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Line offset of the capture LED output; -1: no LED. Default -1.</summary>
    public int LedLine { get; set; } = -1;

    /// <summary>Drive the LED line high to light it. Default true.</summary>
    public bool LedActiveHigh { get; set; } = true;
}

public sealed class GpioOptionsValidator : IValidateOptions<GpioOptions>
{
    public ValidateOptionsResult Validate(string? name, GpioOptions o)
    {
        if (!o.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var f = new List<string>();
        if (string.IsNullOrWhiteSpace(o.Chip))
        {
            f.Add("Gpio:Chip is required when Gpio:Enabled is true");
        }

        if (o.PresenceLine < -1 || o.LedLine < -1)
        {
            f.Add($"Gpio:PresenceLine and Gpio:LedLine must be -1 (none) or a line offset (were {o.PresenceLine}, {o.LedLine})");
        }

        if (o.PresenceLine == -1 && o.LedLine == -1)
        {
            f.Add("Gpio:Enabled is true but neither Gpio:PresenceLine nor Gpio:LedLine is set");
        }

        if (o.PresenceLine >= 0 && o.PresenceLine == o.LedLine)
        {
            f.Add($"Gpio:PresenceLine and Gpio:LedLine must differ (both {o.LedLine})");
        }

        if (o.PresenceHold < TimeSpan.Zero || o.PresenceHold > TimeSpan.FromMinutes(10))
        {
            f.Add($"Gpio:PresenceHold must be between 00:00:00 and 00:10:00 (was {o.PresenceHold})");
        }

        if (o.PollInterval < TimeSpan.FromMilliseconds(10) || o.PollInterval > TimeSpan.FromSeconds(5))
        {
            f.Add($"Gpio:PollInterval must be between 00:00:00.01 and 00:00:05 (was {o.PollInterval})");
        }

        return f.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(f);
    }
}
