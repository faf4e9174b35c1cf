using System.Globalization;
using System.Text;
using Edge.Explain;
using Edge.Host.Options;

namespace Edge.Host.Pipeline;

/// <summary>Applies the configured flag rules to one face on its track; says whether it is flagged and why.</summary>
public sealed class FlagEvaluator
{
    private readonly (FlagRuleOptions Rule, FlagCondition Condition)[] _rules;
    private readonly StringBuilder _reason = new();

    public FlagEvaluator(FlagOptions options)
    {
        _rules = options.Rules
            .Select(r => FlagCondition.TryParse(r.When, out var c, out var error)
                ? (r, c!)
                : throw new ArgumentException($"flag rule '{r.Name}': {error}", nameof(options)))
            .ToArray();
    }

    public int RuleCount => _rules.Length;

    /// <returns>the reason ("" when not flagged): every rule that fired, e.g. <c>unhappy: happy 0.12 &lt; 0.2 for 3.1 s</c></returns>
    public string Evaluate(FaceResult face, FaceTracker.Track track, DateTimeOffset now)
    {
        _reason.Clear();
        for (var i = 0; i < _rules.Length; i++)
        {
            var (rule, condition) = _rules[i];
            var value = condition.Measure(face);
            if (!condition.Holds(value))
            {
                track.HoldingSince[i] = null;
                continue;
            }

            var since = track.HoldingSince[i] ??= now;
            var held = now - since;
            if (held < rule.For)
            {
                continue;
            }

            if (_reason.Length > 0)
            {
                _reason.Append("; ");
            }

            _reason.Append(CultureInfo.InvariantCulture, $"{rule.Name}: {condition.Quantity} {value:0.###} {condition.Op} {condition.Threshold:0.###}");
            if (rule.For > TimeSpan.Zero)
            {
                _reason.Append(CultureInfo.InvariantCulture, $" for {held.TotalSeconds:0.0} s");
            }
        }

        return _reason.Length == 0 ? "" : _reason.ToString();
    }
}
