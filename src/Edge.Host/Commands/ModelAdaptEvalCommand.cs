using System.Globalization;
using Edge.Explain;
using Edge.Explain.Adaptation;
using Edge.Host.Trust;
using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary>
/// <c>edge model adapt-eval</c>: the adaptation experiment. Clean and camera-shifted copies of the same face crops
/// (same file names) are split by source image into folds; for each fold the model is adapted on the shifted
/// images of the other folds (reference statistics from their clean copies; labels, where a method uses them, are
/// the parent's clean-image predictions — the stand-in for a site's own labelling) and judged on the held-out
/// fold: how often the prediction on a shifted image agrees with the parent's prediction on its clean copy.
/// </summary>
internal static class ModelAdaptEvalCommand
{
    internal const string Usage = """
        usage: edge model adapt-eval --model M.onnx --clean DIR --shifted DIR [--folds N] [--seed N] [--l2 X]
          --clean / --shifted  the same crops (same file names) before and after the camera shift; a name's part
                               before "__" is its source image: crops of one source never straddle adapt and held-out
          --folds              cross-validation folds over source images (default 2)
        """;

    private sealed record Tally(string Method)
    {
        public int Agree { get; set; }

        public int Total { get; set; }

        public double HappyAbs { get; set; }

        public double Tv { get; set; }
    }

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? model = null, clean = null, shifted = null;
        int folds = 2, seed = 1;
        var options = new AdaptationOptions();
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--model": model = Next(); break;
                    case "--clean": clean = Next(); break;
                    case "--shifted": shifted = Next(); break;
                    case "--folds": folds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--l2": options = options with { HeadL2 = float.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    default: throw new ArgumentException($"unexpected argument '{args[i]}'");
                }
            }

            if (model is null || clean is null || shifted is null || folds < 2)
            {
                throw new ArgumentException("--model, --clean and --shifted are required; --folds ≥ 2");
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync($"edge model adapt-eval: {e.Message}\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            var names = FaceCropFiles.List(clean).Select(Path.GetFileName).Where(n => File.Exists(Path.Combine(shifted, n!))).Select(n => n!).ToList();
            if (names.Count < 8)
            {
                throw new InvalidDataException($"only {names.Count} crops exist in both folders; the experiment needs at least 8");
            }

            var cleanCrops = await FaceCropFiles.LoadAllAsync([.. names.Select(n => Path.Combine(clean, n))], cancellationToken).ConfigureAwait(false);
            var shiftedCrops = await FaceCropFiles.LoadAllAsync([.. names.Select(n => Path.Combine(shifted, n))], cancellationToken).ConfigureAwait(false);
            var sources = names.Select(Source).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var rng = new Random(seed);
            var shuffled = sources.OrderBy(_ => rng.Next()).ToList();
            var foldOf = shuffled.Select((s, i) => (s, i % folds)).ToDictionary(p => p.s, p => p.Item2, StringComparer.Ordinal);

            var parent = OnnxModel.Load(await File.ReadAllBytesAsync(model, cancellationToken).ConfigureAwait(false));
            using var env = OrtEnvironment.Create();
            var cleanScores = SiteAdapter.Score(env, parent, cleanCrops, cancellationToken);
            var truth = cleanScores.Select(ArgMax).ToArray();
            var early = Math.Max(1, Edge.Explain.Adaptation.SiteAdapter.FeatureLayerCount(parent) / 3);
            string[] methods = ["none (parent model)", "renormalise (no labels)", $"renormalise first {early} layers (no labels)", "head refit (labels)", "renormalise + head refit"];
            var tallies = methods.Select(m => new Tally(m)).ToArray();
            for (var f = 0; f < folds; f++)
            {
                var adapt = Enumerable.Range(0, names.Count).Where(i => foldOf[Source(names[i])] != f).ToList();
                var held = Enumerable.Range(0, names.Count).Where(i => foldOf[Source(names[i])] == f).ToList();
                var refs = adapt.Select(i => cleanCrops[i]).ToList();
                var site = adapt.Select(i => shiftedCrops[i]).ToList();
                var labels = adapt.Select(i => truth[i]).ToList();
                var heldCrops = held.Select(i => shiftedCrops[i]).ToList();
                ModelProto[] variants =
                [
                    parent,
                    SiteAdapter.Adapt(env, parent, refs, site, null, options, cancellationToken).Model,
                    SiteAdapter.Adapt(env, parent, refs, site, null, options with { RenormaliseLayers = early }, cancellationToken).Model,
                    SiteAdapter.Adapt(env, parent, refs, site, labels, options with { Renormalise = false }, cancellationToken).Model,
                    SiteAdapter.Adapt(env, parent, refs, site, labels, options, cancellationToken).Model,
                ];
                for (var m = 0; m < variants.Length; m++)
                {
                    var scores = SiteAdapter.Score(env, variants[m], heldCrops, cancellationToken);
                    for (var j = 0; j < held.Count; j++)
                    {
                        var i = held[j];
                        var t = tallies[m];
                        t.Total++;
                        t.Agree += ArgMax(scores[j]) == truth[i] ? 1 : 0;
                        t.HappyAbs += Math.Abs(scores[j][3] - cleanScores[i][3]);
                        t.Tv += 0.5 * scores[j].Select((v, k) => Math.Abs(v - cleanScores[i][k])).Sum();
                    }
                }

                Console.Out.WriteLine($"fold {f + 1}/{folds}: adapt on {adapt.Count} shifted crops ({sources.Count(s => foldOf[s] != f)} sources), held out {held.Count} ({sources.Count(s => foldOf[s] == f)} sources)");
            }

            Console.Out.WriteLine();
            Console.Out.WriteLine($"{names.Count} crops from {sources.Count} source images; agreement = top-1 on the shifted crop equals the parent's top-1 on its clean copy (held-out only)");
            Console.Out.WriteLine();
            Console.Out.WriteLine("| method | top-1 agreement with clean | mean abs Δ happy | mean total variation |");
            Console.Out.WriteLine("|---|---|---|---|");
            foreach (var t in tallies)
            {
                Console.Out.WriteLine(FormattableString.Invariant($"| {t.Method} | {t.Agree}/{t.Total} ({(double)t.Agree / t.Total:P1}) | {t.HappyAbs / t.Total:F3} | {t.Tv / t.Total:F3} |"));
            }

            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or OrtException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"edge model adapt-eval: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    internal static string Source(string name)
    {
        var stem = Path.GetFileNameWithoutExtension(name);
        var cut = stem.IndexOf("__", StringComparison.Ordinal);
        return cut < 0 ? stem : stem[..cut];
    }

    private static int ArgMax(float[] v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++)
        {
            if (v[i] > v[best])
            {
                best = i;
            }
        }

        return best;
    }
}
