using System.Globalization;
using Edge.Explain;
using Edge.Explain.Adaptation;
using Edge.Host.Trust;
using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary><c>edge model adapt</c>: a site model from a few hundred of the site's own face crops.</summary>
internal static class ModelAdaptCommand
{
    internal const string Usage = """
        usage: edge model adapt --model M.onnx --images DIR --reference DIR --out NEW.onnx
                                [--labels CSV] [--date ISO] [--layers N] [--no-renormalise] [--max-scale X] [--l2 X] [--iterations N]
          --model        the parent scoring model (fp32 ONNX, e.g. $EDGE_CACHE/models/emotion.fp32.onnx)
          --images       the site's face crops (one face per image, any format ffmpeg reads)
          --reference    clean public face crops whose feature statistics the site's are mapped onto
          --labels       CSV image,expression: also refit the classifier on the frozen features
          --out          the adapted model; its manifest goes to NEW.onnx.manifest.json
          --date         the manifest date (default: the newest image file's modification time)
          --layers N     re-normalise only the first N feature convolutions (default all)
          --no-renormalise  skip the per-channel re-normalisation (head refit only; needs --labels)
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? model = null, images = null, reference = null, labels = null, output = null, date = null;
        var options = new AdaptationOptions();
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--model": model = Next(); break;
                    case "--images": images = Next(); break;
                    case "--reference": reference = Next(); break;
                    case "--labels": labels = Next(); break;
                    case "--out": output = Next(); break;
                    case "--date": date = Next(); break;
                    case "--no-renormalise": options = options with { Renormalise = false }; break;
                    case "--layers": options = options with { RenormaliseLayers = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--max-scale": options = options with { MaxScale = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--l2": options = options with { HeadL2 = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--iterations": options = options with { HeadIterations = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    default: throw new ArgumentException($"unexpected argument '{args[i]}'");
                }
            }

            if (model is null || images is null || output is null || (options.Renormalise && reference is null) || (!options.Renormalise && labels is null))
            {
                throw new ArgumentException("--model, --images and --out are required, and --reference (or --no-renormalise with --labels)");
            }

            options.Validate();
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync($"edge model adapt: {e.Message}\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            var siteFiles = FaceCropFiles.List(images);
            var site = await FaceCropFiles.LoadAllAsync(siteFiles, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<string> refFiles = reference is null ? [] : FaceCropFiles.List(reference);
            var refs = await FaceCropFiles.LoadAllAsync(refFiles, cancellationToken).ConfigureAwait(false);
            List<int>? y = null;
            Dictionary<string, int>? counts = null;
            if (labels is not null)
            {
                (site, siteFiles, y) = Labelled(LabelsCsv.Read(labels), siteFiles, site);
                counts = y.GroupBy(v => Expressions.Names[v]).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            }

            var parentBytes = await File.ReadAllBytesAsync(model, cancellationToken).ConfigureAwait(false);
            var parent = OnnxModel.Load(parentBytes);
            using var env = OrtEnvironment.Create();
            var result = SiteAdapter.Adapt(env, parent, refs, site, y, options, cancellationToken);
            var method = Method(options.Renormalise, result.Head is not null);
            var dateSource = date is null ? "newest modification time of the site images" : "--date";
            date ??= AdaptationManifest.DateFromFiles(siteFiles);
            var parentSha = AdaptationManifest.Sha256(parentBytes);
            AdaptationManifest.Stamp(result.Model, parentSha, method, date);
            var bytes = AdaptationManifest.ToBytes(result.Model);
            var manifest = AdaptationManifest.Write(
                output, bytes, model, parentSha, date, dateSource, method, options,
                new DataSummary(images, siteFiles.Count, AdaptationManifest.DigestFiles(siteFiles), counts),
                refFiles.Count == 0 ? null : new DataSummary(reference!, refFiles.Count, AdaptationManifest.DigestFiles(refFiles), null),
                result);
            var folder = Path.GetDirectoryName(Path.GetFullPath(output))!;
            Directory.CreateDirectory(folder);
            await File.WriteAllBytesAsync(output, bytes, cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(output + AdaptationManifest.Suffix, manifest, cancellationToken).ConfigureAwait(false);

            foreach (var l in result.Layers)
            {
                Console.Out.WriteLine(FormattableString.Invariant($"renormalised {l.Tensor} ({l.Channels} ch): mean |log a| {l.MeanAbsLogScale:F3}, mean |shift| {l.MeanAbsShiftInSourceSd:F3} sd, clamped {l.ClampedChannels}"));
            }

            if (result.Head is { } h)
            {
                Console.Out.WriteLine(FormattableString.Invariant($"head refit on {h.Examples} labelled images × {h.Features} features: loss {h.LossBefore:F3} → {h.LossAfter:F3}, accuracy {h.AccuracyBefore:P1} → {h.AccuracyAfter:P1}"));
            }

            Console.Out.WriteLine($"{method}: {output} (sha256 {AdaptationManifest.Sha256(bytes)}), manifest {output}{AdaptationManifest.Suffix}");
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or OrtException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"edge model adapt: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    internal static string Method(bool renormalise, bool head) => (renormalise, head) switch
    {
        (true, true) => "renormalise+head-refit",
        (true, false) => "renormalise",
        (false, true) => "head-refit",
        _ => "none",
    };

    /// <summary>Keeps the site images that have a label (matched by file name), in the same order, with their labels.</summary>
    private static (List<float[]> Crops, IReadOnlyList<string> Files, List<int> Labels) Labelled(LabelsCsv csv, IReadOnlyList<string> files, List<float[]> crops)
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in csv.Rows)
        {
            byName[Path.GetFileName(r.Image)] = r.Expression;
        }

        var keep = Enumerable.Range(0, files.Count).Where(i => byName.ContainsKey(Path.GetFileName(files[i]))).ToList();
        if (keep.Count < 2)
        {
            throw new InvalidDataException($"only {keep.Count} of the site images have a label in the CSV (matched by file name)");
        }

        return ([.. keep.Select(i => crops[i])], [.. keep.Select(i => files[i])], [.. keep.Select(i => byName[Path.GetFileName(files[i])])]);
    }
}
