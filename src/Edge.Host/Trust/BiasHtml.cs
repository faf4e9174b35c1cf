using System.Globalization;
using System.Net;
using System.Text;
using Edge.Explain.Bias;

namespace Edge.Host.Trust;

/// <summary>The bias report as one self-contained HTML page: tables and inline-SVG forest plots of each gap with its bootstrap interval.</summary>
internal static class BiasHtml
{
    public static string Render(BiasReport report)
    {
        var sb = new StringBuilder();
        sb.Append("""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Edge bias report</title>
            <style>
            body{font:14px system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
            th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.few{color:#a60}.sig{font-weight:bold;color:#b00}
            .warn{background:#fff4e0;border:1px solid #e0b060;padding:.5em 1em}svg{display:block;margin-bottom:1em}
            </style></head><body>
            <h1>Bias report</h1>
            """);
        var o = report.Overall;
        sb.Append(Inv($"<p>Model <code>{E(report.Model)}</code>. {o.Count} labelled images: accuracy {o.Accuracy:P1}, mean happy score {o.HappyMean:F3}, calibration error (ECE, {report.CalibrationBins} bins) {o.CalibrationError:F3}. Gaps are group − overall with a {report.BootstrapSamples}-resample bootstrap 95 % interval (seed {report.Seed}); <span class=\"sig\">bold red</span> where the interval excludes 0 and the group is large enough; orange rows are too small for a conclusion. Groups come from the labels file's columns only.</p>\n"));
        if (report.Warnings.Count > 0)
        {
            sb.Append("<div class=\"warn\"><b>Warnings</b><ul>");
            foreach (var w in report.Warnings)
            {
                sb.Append("<li>").Append(E(w)).Append("</li>");
            }

            sb.Append("</ul></div>\n");
        }

        foreach (var column in report.Groups.Select(g => g.Column).Distinct(StringComparer.Ordinal))
        {
            var groups = report.Groups.Where(g => g.Column == column).ToList();
            sb.Append("<h2>").Append(E(column)).Append("</h2>\n<table><tr><th>group</th><th>images</th><th>accuracy</th><th>gap [95 % CI]</th><th>happy mean</th><th>gap [95 % CI]</th><th>ECE</th><th>gap [95 % CI]</th></tr>\n");
            foreach (var g in groups)
            {
                sb.Append(Inv($"<tr{(g.TooFew ? " class=\"few\"" : string.Empty)}><td>{E(BiasAnalysis.Display(g.Value))}{(g.TooFew ? " (too few)" : string.Empty)}</td><td>{g.Count}</td>"));
                Cells(sb, g.Accuracy, "P1", g.TooFew);
                Cells(sb, g.HappyMean, "F3", g.TooFew);
                Cells(sb, g.CalibrationError, "F3", g.TooFew);
                sb.Append("</tr>\n");
            }

            sb.Append("</table>\n");
            sb.Append(Forest("accuracy gap", groups, g => g.Accuracy));
            sb.Append(Forest("happy-score mean gap", groups, g => g.HappyMean));
            sb.Append(Forest("calibration error gap", groups, g => g.CalibrationError));
        }

        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void Cells(StringBuilder sb, Gap gap, string format, bool tooFew)
    {
        var v = gap.Value.ToString(format, CultureInfo.InvariantCulture);
        var cls = gap.Significant && !tooFew ? " class=\"sig\"" : string.Empty;
        sb.Append(Inv($"<td>{v}</td><td{cls}>{gap.GapToOverall:+0.000;-0.000} [{gap.GapLow:+0.000;-0.000}, {gap.GapHigh:+0.000;-0.000}]</td>"));
    }

    /// <summary>A forest plot: one row per group, a dot at the gap, a whisker for the interval, a line at zero.</summary>
    private static string Forest(string title, List<GroupStats> groups, Func<GroupStats, Gap> pick)
    {
        const int width = 640, left = 170, right = 30, row = 24, top = 26;
        var height = top + (groups.Count * row) + 24;
        var extent = groups.Select(pick).SelectMany(g => new[] { Math.Abs(g.GapToOverall), Math.Abs(double.IsNaN(g.GapLow) ? 0 : g.GapLow), Math.Abs(double.IsNaN(g.GapHigh) ? 0 : g.GapHigh) }).DefaultIfEmpty(0).Max();
        extent = extent <= 0 ? 0.1 : extent * 1.1;
        double X(double v) => left + ((v + extent) / (2 * extent) * (width - left - right));
        var sb = new StringBuilder();
        sb.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{E(title)}\">"));
        sb.Append(Inv($"<text x=\"{left}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{E(title)} (group − overall)</text>"));
        sb.Append(Inv($"<line x1=\"{X(0):F1}\" y1=\"{top - 4}\" x2=\"{X(0):F1}\" y2=\"{height - 20}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>"));
        sb.Append(Inv($"<text x=\"{X(-extent):F1}\" y=\"{height - 6}\" font-size=\"11\">{-extent:+0.00;-0.00}</text><text x=\"{X(0) - 4:F1}\" y=\"{height - 6}\" font-size=\"11\">0</text><text x=\"{X(extent) - 30:F1}\" y=\"{height - 6}\" font-size=\"11\">{extent:+0.00;-0.00}</text>"));
        for (var i = 0; i < groups.Count; i++)
        {
            var g = pick(groups[i]);
            var y = top + (i * row) + (row / 2);
            var colour = groups[i].TooFew ? "#c80" : g.Significant ? "#b00" : "#246";
            sb.Append(Inv($"<text x=\"{left - 8}\" y=\"{y + 4}\" font-size=\"12\" text-anchor=\"end\">{E(BiasAnalysis.Display(groups[i].Value))} (n={groups[i].Count})</text>"));
            if (!double.IsNaN(g.GapLow))
            {
                sb.Append(Inv($"<line x1=\"{X(g.GapLow):F1}\" y1=\"{y}\" x2=\"{X(g.GapHigh):F1}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"2\"/>"));
            }

            sb.Append(Inv($"<circle cx=\"{X(g.GapToOverall):F1}\" cy=\"{y}\" r=\"4.5\" fill=\"{colour}\"/>"));
        }

        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
