using System.Text;
using Edge.Explain;

namespace Edge.Host.Trust;

/// <summary>One row of a labels file: the image, its true expression and the user's group values (column → value).</summary>
internal sealed record LabelRow(string Image, int Expression, IReadOnlyDictionary<string, string> Groups);

/// <summary>
/// A labels CSV: header <c>image,expression[,group…]</c> (first two columns by position, any header names),
/// RFC 4180 quoting. Group columns are whatever the user chose; nothing is ever inferred from a face.
/// </summary>
internal sealed class LabelsCsv
{
    private LabelsCsv(IReadOnlyList<string> groupColumns, IReadOnlyList<LabelRow> rows)
    {
        GroupColumns = groupColumns;
        Rows = rows;
    }

    public IReadOnlyList<string> GroupColumns { get; }

    public IReadOnlyList<LabelRow> Rows { get; }

    public static LabelsCsv Read(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count < 2)
        {
            throw new InvalidDataException($"{path}: needs a header line and at least one row");
        }

        var header = Split(lines[0]);
        if (header.Count < 2)
        {
            throw new InvalidDataException($"{path}: the header needs at least 'image,expression'");
        }

        var groups = header.Skip(2).Select(h => h.Trim()).ToList();
        var rows = new List<LabelRow>(lines.Count - 1);
        for (var i = 1; i < lines.Count; i++)
        {
            var f = Split(lines[i]);
            if (f.Count != header.Count)
            {
                throw new InvalidDataException($"{path}:{i + 1}: {f.Count} fields, the header has {header.Count}");
            }

            int expression;
            try
            {
                expression = Expressions.IndexOf(f[1].Trim());
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{path}:{i + 1}: {e.Message}", e);
            }

            var g = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var c = 0; c < groups.Count; c++)
            {
                g[groups[c]] = f[c + 2].Trim();
            }

            rows.Add(new LabelRow(f[0].Trim(), expression, g));
        }

        return new LabelsCsv(groups, rows);
    }

    /// <summary>The image path of a row: absolute as written, else relative to the CSV's folder.</summary>
    public static string Resolve(string csvPath, string image) =>
        Path.IsPathRooted(image) ? image : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(csvPath))!, image);

    internal static List<string> Split(string line)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    sb.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    sb.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        fields.Add(sb.ToString());
        return fields;
    }
}
