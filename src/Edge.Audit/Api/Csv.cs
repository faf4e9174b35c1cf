using System.Globalization;
using System.Text;
using Edge.Audit.Storage;

namespace Edge.Audit.Api;

/// <summary>RFC 4180 CSV of events. Text a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with a quote.</summary>
public static class Csv
{
    public const string Header =
        "event_id,site_id,kiosk_id,captured_at,flagged,flag_reason,top_class,angry,disgust,fear,happy,sad,surprise,neutral,review_state,model_id";

    public static async Task WriteEventsAsync(Stream output, IAsyncEnumerable<EventRow> rows, CancellationToken cancellationToken)
    {
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 64 * 1024, leaveOpen: true) { NewLine = "\r\n" };
        await writer.WriteLineAsync(Header.AsMemory(), cancellationToken);
        var line = new StringBuilder(256);
        await foreach (var r in rows.WithCancellation(cancellationToken))
        {
            line.Clear();
            Field(line, r.EventId).Append(',');
            Field(line, r.SiteId).Append(',');
            Field(line, r.KioskId).Append(',');
            line.Append(DateTimeOffset.FromUnixTimeMilliseconds(r.CapturedAtMs).ToString("O", CultureInfo.InvariantCulture)).Append(',');
            line.Append(r.Flagged ? "true" : "false").Append(',');
            Field(line, r.FlagReason).Append(',');
            Field(line, r.TopClass).Append(',');
            foreach (var v in new[] { r.Angry, r.Disgust, r.Fear, r.Happy, r.Sad, r.Surprise, r.Neutral })
            {
                line.Append(v.ToString("0.######", CultureInfo.InvariantCulture)).Append(',');
            }

            Field(line, r.ReviewState).Append(',');
            Field(line, r.ModelId);
            await writer.WriteLineAsync(line, cancellationToken);
        }

        await writer.FlushAsync(cancellationToken);
    }

    public static StringBuilder Field(StringBuilder sb, string value)
    {
        var v = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;
        if (v.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            return sb.Append(v);
        }

        return sb.Append('"').Append(v.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }
}
