using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Edge.Testing;

/// <summary>
/// A strict reader of the Prometheus text exposition format 0.0.4, written from the format's description so tests can
/// check what a /metrics endpoint serves: every sample belongs to a family announced once by <c># HELP</c> and
/// <c># TYPE</c> before its samples, families are not interleaved, names and labels are well formed, values parse, and
/// each histogram series has ascending <c>le</c> bounds ending in <c>+Inf</c>, cumulative counts that never decrease, and
/// a <c>_count</c> equal to its <c>+Inf</c> bucket. <see cref="Parse"/> throws <see cref="FormatException"/> naming the
/// line on the first violation. Depends on nothing from the product (tests/Shared is compiled into each test project).
/// </summary>
public sealed partial class PrometheusText
{
    private PrometheusText(Dictionary<string, Family> families) => Families = families;

    public IReadOnlyDictionary<string, Family> Families { get; }

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed class Family(string name)
    {
        public string Name { get; } = name;

        public string? Help { get; set; }

        public string? Type { get; set; }

        public List<Sample> Samples { get; } = [];
    }

    /// <summary>The value of the one sample named <paramref name="name"/> whose labels include <paramref name="labels"/> (0 when there is none).</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var matches = Families.Values.SelectMany(f => f.Samples)
            .Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            .ToList();
        return matches.Count switch
        {
            0 => 0,
            1 => matches[0].Value,
            _ => throw new InvalidOperationException($"{matches.Count} samples of {name} match; name more labels"),
        };
    }

    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the exposition must end with a line feed");
        }

        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        Family? current = null;
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                if (line.StartsWith('#'))
                {
                    var m = MetaLine().Match(line);
                    if (!m.Success)
                    {
                        continue; // a plain comment
                    }

                    var name = m.Groups["name"].Value;
                    if (current?.Name != name)
                    {
                        if (current is not null)
                        {
                            finished.Add(current.Name);
                        }

                        if (finished.Contains(name))
                        {
                            throw new FormatException($"family {name} appears again after other families");
                        }

                        current = families.TryGetValue(name, out var f) ? f : families[name] = new Family(name);
                    }

                    if (current.Samples.Count > 0)
                    {
                        throw new FormatException($"{m.Groups["kind"].Value} of {name} after its samples");
                    }

                    if (m.Groups["kind"].Value == "HELP")
                    {
                        current.Help = current.Help is null ? Unescape(m.Groups["rest"].Value, false) : throw new FormatException($"second HELP for {name}");
                    }
                    else
                    {
                        var type = m.Groups["rest"].Value;
                        if (type is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                        {
                            throw new FormatException($"unknown TYPE {type}");
                        }

                        current.Type = current.Type is null ? type : throw new FormatException($"second TYPE for {name}");
                    }

                    continue;
                }

                var sample = ParseSample(line);
                var family = FamilyOf(sample.Name, current);
                if (family is null)
                {
                    throw new FormatException($"sample {sample.Name} outside the family announced just before it ({current?.Name ?? "none"})");
                }

                if (family.Help is null || family.Type is null)
                {
                    throw new FormatException($"sample {sample.Name} before both HELP and TYPE of {family.Name}");
                }

                family.Samples.Add(sample);
            }
            catch (FormatException e)
            {
                throw new FormatException($"line {lineNumber}: {e.Message}: {line}", e);
            }
        }

        foreach (var f in families.Values.Where(f => f.Type == "histogram"))
        {
            CheckHistogram(f);
        }

        return new PrometheusText(families);
    }

    private static Family? FamilyOf(string sampleName, Family? current)
    {
        if (current is null)
        {
            return null;
        }

        if (current.Type is "histogram")
        {
            return sampleName == current.Name + "_bucket" || sampleName == current.Name + "_sum" || sampleName == current.Name + "_count" ? current : null;
        }

        return sampleName == current.Name ? current : null;
    }

    private static Sample ParseSample(string line)
    {
        var m = SampleLine().Match(line);
        if (!m.Success)
        {
            throw new FormatException("not a sample line");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var body = m.Groups["labels"].Value;
        var pos = 0;
        while (pos < body.Length)
        {
            var l = LabelPair().Match(body, pos);
            if (!l.Success || l.Index != pos)
            {
                throw new FormatException($"bad label at '{body[pos..]}'");
            }

            var key = l.Groups["key"].Value;
            if (!labels.TryAdd(key, Unescape(l.Groups["value"].Value, true)))
            {
                throw new FormatException($"label {key} twice");
            }

            pos += l.Length;
            if (pos < body.Length)
            {
                if (body[pos] != ',')
                {
                    throw new FormatException("labels must be separated by ','");
                }

                pos++;
            }
        }

        return new Sample(m.Groups["name"].Value, labels, ParseValue(m.Groups["value"].Value));
    }

    private static double ParseValue(string s) => s switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"bad value {s}"),
    };

    private static string Unescape(string s, bool labelValue)
    {
        var b = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\')
            {
                b.Append(s[i]);
                continue;
            }

            if (++i == s.Length)
            {
                throw new FormatException("dangling backslash");
            }

            b.Append(s[i] switch
            {
                '\\' => '\\',
                'n' => '\n',
                '"' when labelValue => '"',
                _ => throw new FormatException($"bad escape \\{s[i]}"),
            });
        }

        return b.ToString();
    }

    private static void CheckHistogram(Family f)
    {
        static string Key(IReadOnlyDictionary<string, string> labels) =>
            string.Join(",", labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value));

        foreach (var series in f.Samples.GroupBy(s => Key(s.Labels)))
        {
            var buckets = series.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
            if (buckets.Count == 0)
            {
                throw new FormatException($"histogram {f.Name}{{{series.Key}}} has no buckets");
            }

            var previousBound = double.NegativeInfinity;
            var previousCount = 0.0;
            foreach (var b in buckets)
            {
                if (!b.Labels.TryGetValue("le", out var le))
                {
                    throw new FormatException($"bucket of {f.Name}{{{series.Key}}} without le");
                }

                var bound = ParseValue(le);
                if (!(bound > previousBound))
                {
                    throw new FormatException($"histogram {f.Name}{{{series.Key}}}: le {le} not above the previous bound");
                }

                if (b.Value < previousCount)
                {
                    throw new FormatException($"histogram {f.Name}{{{series.Key}}}: bucket le={le} count {b.Value} below the previous {previousCount}");
                }

                previousBound = bound;
                previousCount = b.Value;
            }

            if (!double.IsPositiveInfinity(previousBound))
            {
                throw new FormatException($"histogram {f.Name}{{{series.Key}}} does not end with le=\"+Inf\"");
            }

            var count = series.Where(s => s.Name == f.Name + "_count").ToList();
            if (count.Count != 1 || count[0].Value != previousCount || series.Count(s => s.Name == f.Name + "_sum") != 1)
            {
                throw new FormatException($"histogram {f.Name}{{{series.Key}}}: needs one _sum and one _count equal to the +Inf bucket ({previousCount})");
            }
        }
    }

    [GeneratedRegex(@"^# (?<kind>HELP|TYPE) (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?: (?<rest>.*))?$")]
    private static partial Regex MetaLine();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^\n]*)\})? (?<value>\S+)(?: -?[0-9]+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
