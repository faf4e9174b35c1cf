using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Explain.Adaptation;

/// <summary>A set of images summarised for the manifest: how many and a digest of their names and bytes.</summary>
public sealed record DataSummary(string Folder, int Images, string Sha256, IReadOnlyDictionary<string, int>? LabelCounts);

/// <summary>
/// Writes the adapted model's manifest (<c>NEW.onnx.manifest.json</c>) and stamps the model's metadata. Every
/// value comes from the inputs — the date is passed in or taken from the data — so the same inputs give the
/// same bytes.
/// </summary>
public static class AdaptationManifest
{
    public const string Suffix = ".manifest.json";

    /// <summary>Digest over the ordinal-sorted (name, bytes) pairs of the files.</summary>
    public static string DigestFiles(IEnumerable<string> paths)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in paths.OrderBy(Path.GetFileName, StringComparer.Ordinal))
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(p) + "\n"));
            h.AppendData(File.ReadAllBytes(p));
        }

        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>Adds the adaptation to the model's metadata_props (replacing earlier edge.adapt.* entries).</summary>
    public static void Stamp(ModelProto model, string parentSha256, string method, string date)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var old in model.MetadataProps.Where(p => p.Key.StartsWith("edge.adapt.", StringComparison.Ordinal)).ToList())
        {
            model.MetadataProps.Remove(old);
        }

        model.MetadataProps.Add(new StringStringEntryProto { Key = "edge.adapt.parent_sha256", Value = parentSha256 });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "edge.adapt.method", Value = method });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "edge.adapt.date", Value = date });
    }

    public static byte[] Write(
        string modelFile,
        byte[] modelBytes,
        string parentFile,
        string parentSha256,
        string date,
        string dateSource,
        string method,
        AdaptationOptions options,
        DataSummary site,
        DataSummary? reference,
        AdaptationResult result)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(result);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("schema", 1);
            w.WriteString("kind", "site-adapted");
            w.WriteString("file", Path.GetFileName(modelFile));
            w.WriteString("sha256", Convert.ToHexStringLower(SHA256.HashData(modelBytes)));
            w.WriteNumber("bytes", modelBytes.Length);
            w.WriteStartObject("parent");
            w.WriteString("file", Path.GetFileName(parentFile));
            w.WriteString("sha256", parentSha256);
            w.WriteEndObject();
            w.WriteString("date", date);
            w.WriteString("dateSource", dateSource);
            w.WriteStartObject("method");
            w.WriteString("name", method);
            w.WriteBoolean("renormalise", options.Renormalise);
            w.WriteBoolean("refitHead", result.Head is not null);
            w.WriteNumber("maxScale", options.MaxScale);
            if (options.RenormaliseLayers is { } layers)
            {
                w.WriteNumber("renormaliseLayers", layers);
            }

            if (result.Head is not null)
            {
                w.WriteNumber("headL2", options.HeadL2);
                w.WriteNumber("headIterations", options.HeadIterations);
                w.WriteNumber("headLearningRate", options.HeadLearningRate);
            }

            w.WriteEndObject();
            w.WritePropertyName("siteData");
            WriteData(w, site);
            if (reference is not null)
            {
                w.WritePropertyName("referenceData");
                WriteData(w, reference);
            }

            w.WriteStartArray("layers");
            foreach (var l in result.Layers)
            {
                w.WriteStartObject();
                w.WriteString("tensor", l.Tensor);
                w.WriteNumber("channels", l.Channels);
                w.WriteNumber("meanAbsLogScale", Math.Round(l.MeanAbsLogScale, 6));
                w.WriteNumber("meanAbsShiftInSourceSd", Math.Round(l.MeanAbsShiftInSourceSd, 6));
                w.WriteNumber("clampedChannels", l.ClampedChannels);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (result.Head is { } h)
            {
                w.WriteStartObject("head");
                w.WriteNumber("examples", h.Examples);
                w.WriteNumber("features", h.Features);
                w.WriteNumber("lossBefore", Math.Round(h.LossBefore, 6));
                w.WriteNumber("lossAfter", Math.Round(h.LossAfter, 6));
                w.WriteNumber("accuracyBefore", Math.Round(h.AccuracyBefore, 6));
                w.WriteNumber("accuracyAfter", Math.Round(h.AccuracyAfter, 6));
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>The newest last-write time of the files, as an ISO-8601 UTC date-time: the "date taken from the data".</summary>
    public static string DateFromFiles(IEnumerable<string> paths) =>
        paths.Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.UnixEpoch).Max().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static void WriteData(Utf8JsonWriter w, DataSummary d)
    {
        w.WriteStartObject();
        w.WriteString("folder", Path.GetFileName(Path.TrimEndingDirectorySeparator(d.Folder)));
        w.WriteNumber("images", d.Images);
        w.WriteString("sha256", d.Sha256);
        if (d.LabelCounts is not null)
        {
            w.WriteStartObject("labels");
            foreach (var (k, v) in d.LabelCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WriteNumber(k, v);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    /// <summary>The SHA-256 of a model's bytes (lower-case hex).</summary>
    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Serialises the model (deterministic).</summary>
    public static byte[] ToBytes(ModelProto model) => OnnxModel.ToBytes(model);
}
