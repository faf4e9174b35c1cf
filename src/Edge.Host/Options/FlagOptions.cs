using Edge.Host.Pipeline;
using Microsoft.Extensions.Options;

namespace Edge.Host.Options;

/// <summary>
/// Flag rules (section <c>Flags</c>). A face is flagged when any rule's condition has held for the rule's
/// <see cref="FlagRuleOptions.For"/> on the same tracked face. Example rule:
/// <c>{ "Name": "unhappy", "When": "happy &lt; 0.2", "For": "00:00:03" }</c>.
/// </summary>
public sealed class FlagOptions
{
    public const string SectionName = "Flags";

    public List<FlagRuleOptions> Rules { get; set; } = [];
}

public sealed class FlagRuleOptions
{
    /// <summary>Short name, goes into the event's flag reason. Required, unique.</summary>
    public string Name { get; set; } = "";

    /// <summary>
    /// <c>QUANTITY OP NUMBER</c>: QUANTITY is an expression name, several joined by '+' (their probabilities
    /// summed, e.g. <c>angry+disgust+fear+sad</c>), or <c>detector</c> (the detector's confidence);
    /// OP is one of &lt; &lt;= &gt; &gt;=; NUMBER in [0, 1].
    /// </summary>
    public string When { get; set; } = "";

    /// <summary>How long the condition must hold on one face before it flags. Zero: at once. Default zero, at most 1 h.</summary>
    public TimeSpan For { get; set; } = TimeSpan.Zero;
}

public sealed class FlagOptionsValidator : IValidateOptions<FlagOptions>
{
    public ValidateOptionsResult Validate(string? name, FlagOptions options)
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Rules.Count; i++)
        {
            var rule = options.Rules[i];
            var key = $"Flags:Rules:{i}";
            if (string.IsNullOrWhiteSpace(rule.Name))
            {
                failures.Add($"{key}:Name is required");
            }
            else if (!names.Add(rule.Name))
            {
                failures.Add($"{key}:Name '{rule.Name}' is used by an earlier rule");
            }

            if (!FlagCondition.TryParse(rule.When, out _, out var error))
            {
                failures.Add($"{key}:When {error}");
            }

            if (rule.For < TimeSpan.Zero || rule.For > TimeSpan.FromHours(1))
            {
                failures.Add($"{key}:For must be between 00:00:00 and 01:00:00 (was {rule.For})");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
