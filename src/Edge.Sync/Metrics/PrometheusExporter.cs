using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Edge.Sync.Metrics;

/// <summary>
/// Prometheus text exposition (format 0.0.4) of the <c>Edge.*</c> meters created by this container's
/// <see cref="IMeterFactory"/> and of the runtime's own <c>System.Runtime</c> meter (GC heap sizes, collections, working
/// set, thread-pool: what an operator needs to see memory stay flat), collected with a <see cref="MeterListener"/>. Recording a measurement with a
/// known tag set allocates nothing; a new tag set allocates its series once. It lives here, in the one assembly both
/// services reference, so the kiosk (<c>edge run</c>) and the audit store (<c>edge-audit</c>) expose the same format.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] s_defaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();

    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if ((ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Meter.Name.StartsWith("Edge.", StringComparison.Ordinal))
                || instrument.Meter.Name == RuntimeMeter)
            {
                var state = new InstrumentState(instrument);
                _instruments[instrument] = state;
                listener.EnableMeasurementEvents(instrument, state);
            }
        };
        _listener.MeasurementsCompleted = (instrument, _) => _instruments.TryRemove(instrument, out InstrumentState? _);
        _listener.SetMeasurementEventCallback<long>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.Start();
    }

    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The .NET runtime's built-in meter (instruments named <c>dotnet.*</c>).</summary>
    public const string RuntimeMeter = "System.Runtime";

    /// <summary>Reads the observable instruments, then writes every series.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder(4096);
        foreach (var group in _instruments.Values.GroupBy(s => s.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var first = group.First();
            text.Append("# HELP ").Append(first.Name).Append(' ').Append(Escape(first.Help, false)).Append('\n');
            text.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Kind switch
            {
                Kind.Counter => "counter",
                Kind.Histogram => "histogram",
                _ => "gauge",
            }).Append('\n');
            foreach (var state in group)
            {
                state.Write(text);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    internal static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string? text, bool labelValue)
    {
        var s = (text ?? "").Replace("\\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);
        return labelValue ? s.Replace("\"", "\\\"", StringComparison.Ordinal) : s;
    }

    internal enum Kind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private sealed class InstrumentState
    {
        private readonly List<Series> _series = [];
        private readonly Lock _gate = new();
        private readonly bool _cumulative;
        private readonly double[] _bounds = [];

        public InstrumentState(Instrument instrument)
        {
            var definition = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : instrument.GetType();
            (Kind, _cumulative) = definition switch
            {
                _ when definition == typeof(Counter<>) => (Kind.Counter, true),
                _ when definition == typeof(ObservableCounter<>) => (Kind.Counter, false),
                _ when definition == typeof(UpDownCounter<>) => (Kind.Gauge, true),
                _ when definition == typeof(Histogram<>) => (Kind.Histogram, true),
                _ => (Kind.Gauge, false),
            };
            if (Kind == Kind.Histogram)
            {
                _bounds = instrument switch
                {
                    Histogram<double> h when h.Advice?.HistogramBucketBoundaries is { Count: > 0 } b => [.. b],
                    Histogram<long> h when h.Advice?.HistogramBucketBoundaries is { Count: > 0 } b => [.. b.Select(x => (double)x)],
                    _ => s_defaultBuckets,
                };
            }

            Name = PromName(instrument, Kind);
            Help = instrument.Description ?? instrument.Name;
        }

        public Kind Kind { get; }

        public string Name { get; }

        public string Help { get; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_gate)
            {
                var series = Find(tags);
                switch (Kind)
                {
                    case Kind.Histogram:
                        var i = 0;
                        while (i < _bounds.Length && value > _bounds[i])
                        {
                            i++;
                        }

                        series.Buckets[i]++;
                        series.Count++;
                        series.Value += value;
                        break;
                    default:
                        series.Value = _cumulative ? series.Value + value : value;
                        break;
                }
            }
        }

        public void Write(StringBuilder text)
        {
            lock (_gate)
            {
                foreach (var s in _series)
                {
                    if (Kind != Kind.Histogram)
                    {
                        text.Append(Name);
                        Labels(text, s.Labels, null);
                        text.Append(' ').Append(Format(s.Value)).Append('\n');
                        continue;
                    }

                    long cumulative = 0;
                    for (var b = 0; b <= _bounds.Length; b++)
                    {
                        cumulative += s.Buckets[b];
                        text.Append(Name).Append("_bucket");
                        Labels(text, s.Labels, b < _bounds.Length ? Format(_bounds[b]) : "+Inf");
                        text.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    }

                    text.Append(Name).Append("_sum");
                    Labels(text, s.Labels, null);
                    text.Append(' ').Append(Format(s.Value)).Append('\n');
                    text.Append(Name).Append("_count");
                    Labels(text, s.Labels, null);
                    text.Append(' ').Append(s.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
            }
        }

        private static void Labels(StringBuilder text, KeyValuePair<string, string>[] labels, string? le)
        {
            if (labels.Length == 0 && le is null)
            {
                return;
            }

            text.Append('{');
            var first = true;
            foreach (var (k, v) in labels)
            {
                text.Append(first ? "" : ",").Append(Sanitize(k)).Append("=\"").Append(Escape(v, true)).Append('"');
                first = false;
            }

            if (le is not null)
            {
                text.Append(first ? "" : ",").Append("le=\"").Append(le).Append('"');
            }

            text.Append('}');
        }

        private Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var s in _series)
            {
                if (s.Matches(tags))
                {
                    return s;
                }
            }

            var labels = new KeyValuePair<string, string>[tags.Length];
            for (var i = 0; i < tags.Length; i++)
            {
                labels[i] = new(tags[i].Key, Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "");
            }

            var created = new Series(labels, Kind == Kind.Histogram ? _bounds.Length + 1 : 0);
            _series.Add(created);
            return created;
        }

        private static string PromName(Instrument instrument, Kind kind)
        {
            var name = Sanitize(instrument.Name);
            var unit = instrument.Unit switch
            {
                "s" => "seconds",
                "ms" => "milliseconds",
                "By" => "bytes",
                _ => null,
            };
            if (unit is not null && !name.EndsWith("_" + unit, StringComparison.Ordinal))
            {
                name += "_" + unit;
            }

            if (kind == Kind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
            {
                name += "_total";
            }

            return name;
        }
    }

    private static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] == '_' || chars[i] == ':'))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    private sealed class Series(KeyValuePair<string, string>[] labels, int buckets)
    {
        public KeyValuePair<string, string>[] Labels { get; } = labels;

        public long[] Buckets { get; } = new long[buckets];

        public double Value { get; set; }

        public long Count { get; set; }

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length != Labels.Length)
            {
                return false;
            }

            for (var i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(tags[i].Key, Labels[i].Key, StringComparison.Ordinal)
                    || !(tags[i].Value is string s ? string.Equals(s, Labels[i].Value, StringComparison.Ordinal)
                        : string.Equals(Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture), Labels[i].Value, StringComparison.Ordinal)))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
