using System.Globalization;
using Edge.Explain;
using Edge.Explain.Drift;
using Edge.Explain.Explanations;
using Edge.Explain.Faces;
using Edge.Explain.Occlusion;
using Edge.Host.Trust;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Runtime;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Host.Commands;

/// <summary>
/// <c>edge drift baseline</c> (commissioning: score a clean video or image folder, write the baseline) and
/// <c>edge drift replay</c> (stream a video or folder through the kiosk's drift watch and print the status as it goes).
/// </summary>
internal static class DriftCommand
{
    internal const string Usage = """
        usage: edge drift baseline --input VIDEO|DIR --out BASELINE.json [--fps F] [--bins N] [--date ISO] [face options]
               edge drift replay   --baseline BASELINE.json --input VIDEO|DIR [--fps F] [--window N] [--min-samples N]
                                   [--every N] [--warn PSI] [--alert PSI] [face options]
                                   [--publish HOST:PORT --site S --kiosk K]
          face options: --precision fp32|int8 (default fp32), --scorer MODEL.onnx (e.g. a site-adapted model)
          --fps      frames per second sampled from a video (default 5)
          --date     the baseline's capture date (default: the input's modification time)
          --every    print the status after every N faces (default 25)
          --occlusion R  run the occlusion check (LRP heatmap of the top class, top vs random patch) on a share R
                     of the faces (default 0; needs an fp32 scorer); --lrp-mode reduced|full (default reduced, the kiosk's)
          --publish  also publish each printed status as DriftStatus (retained, QoS 1) on edge/v1/S/K/drift
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || args[0] is not ("baseline" or "replay"))
        {
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        var verb = args[0];
        string? input = null, output = null, baselinePath = null, date = null, publish = null, site = null, kiosk = null;
        double fps = 5;
        var bins = 10;
        var every = 25;
        var lrpMode = LrpMode.Reduced;
        var drift = new DriftOptions { Enabled = true, Window = 100, MinSamples = 50, OcclusionSampleRate = 0 };
        var faces = new FaceAnalyzerOptions { Precision = ScoringPrecision.Fp32 };
        try
        {
            for (var i = 1; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--input": input = Next(); break;
                    case "--out": output = Next(); break;
                    case "--baseline": baselinePath = Next(); break;
                    case "--date": date = Next(); break;
                    case "--fps": fps = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--bins": bins = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--every": every = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--window": drift.Window = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--min-samples": drift.MinSamples = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--warn": drift.WarnPsi = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--alert": drift.AlertPsi = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--precision": faces.Precision = Enum.Parse<ScoringPrecision>(Next(), ignoreCase: true); break;
                    case "--scorer": faces.ScorerModelPath = Next(); break;
                    case "--publish": publish = Next(); break;
                    case "--lrp-mode": lrpMode = Enum.Parse<LrpMode>(Next(), ignoreCase: true); break;
                    case "--occlusion": drift.OcclusionSampleRate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--site": site = Next(); break;
                    case "--kiosk": kiosk = Next(); break;
                    default: throw new ArgumentException($"unexpected argument '{args[i]}'");
                }
            }

            if (input is null || (verb == "baseline" && output is null) || (verb == "replay" && baselinePath is null) || !(fps > 0) || every < 1)
            {
                throw new ArgumentException(verb == "baseline" ? "--input and --out are required" : "--baseline and --input are required");
            }

            if (publish is not null && (site is null || kiosk is null || !publish.Contains(':', StringComparison.Ordinal)))
            {
                throw new ArgumentException("--publish HOST:PORT needs --site and --kiosk");
            }

            drift.BaselinePath = baselinePath ?? output;
            if (verb == "replay")
            {
                var check = new DriftOptionsValidator().Validate(null, drift);
                if (check.Failed)
                {
                    throw new ArgumentException(check.FailureMessage);
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync($"edge drift {verb}: {e.Message}\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            using var env = OrtEnvironment.Create();
            using var analyzer = new FaceAnalyzer(faces, env);
            var results = new List<FaceResult>();
            if (verb == "baseline")
            {
                var observations = new List<float[]>();
                var frames = 0;
                await foreach (var f in ReplayFrames.ReadAsync(input!, fps, cancellationToken).ConfigureAwait(false))
                {
                    frames++;
                    analyzer.Analyze(f.Rgb24, f.Width, f.Height, results);
                    observations.AddRange(results.Select(DriftBaseline.Observe));
                }

                if (observations.Count < 20)
                {
                    throw new InvalidDataException($"only {observations.Count} faces in {frames} frames; a baseline needs at least 20");
                }

                date ??= File.GetLastWriteTimeUtc(input!).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                var baseline = DriftBaseline.Build(observations, bins, date, Path.GetFileName(Path.TrimEndingDirectorySeparator(input!)), analyzer.ModelSha256);
                baseline.Save(output!);
                Console.Out.WriteLine($"baseline: {observations.Count} faces from {frames} frames, {bins} bins per signal, model {analyzer.ModelSha256[..12]} → {output}");
                return 0;
            }

            var monitor = new DriftMonitor(DriftBaseline.Load(baselinePath!), drift, TimeProvider.System);
            using var lrp = drift.OcclusionSampleRate > 0 ? FaceExplainer.Create(env, OnnxModel.Load(faces.ResolvedScorerPath), new LrpOptions { Mode = lrpMode }, 1) : null;
            var map = new float[lrp?.MapPixels ?? 0];
            var logits = new float[Edge.Explain.Expressions.Count];
            using var scorer = drift.OcclusionSampleRate > 0 ? new ExpressionScorer(env, faces.ResolvedScorerPath, new SessionSettings()) : null;
            var random = new Random(drift.Seed);
            var crop = new float[FaceCrop.Size * FaceCrop.Size];
            var probs = new float[Edge.Explain.Expressions.Count];
            await using var transport = publish is null ? null : await ConnectAsync(publish, site!, kiosk!, cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine($"{"frame",-10} {"faces",6} {"window",6} {"level",-12} worst signal (PSI)      happy PSI  detector PSI  occlusion disagree");
            var seen = 0;
            var worstLevel = DriftLevel.Insufficient;
            await foreach (var f in ReplayFrames.ReadAsync(input!, fps, cancellationToken).ConfigureAwait(false))
            {
                analyzer.Analyze(f.Rgb24, f.Width, f.Height, results);
                foreach (var face in results)
                {
                    monitor.Observe(face);
                    if (lrp is not null && random.NextDouble() < drift.OcclusionSampleRate)
                    {
                        FaceCrop.Extract(f.Rgb24, f.Width, f.Height, face.Box, faces.CropMargin, crop);
                        lrp.Explain(crop, [FaceExplainer.TopClass], probs, logits, map);
                        var target = Array.IndexOf(probs, probs.Max());
                        var heatmap = new Edge.Explain.Heatmap(Edge.Explain.Expressions.Names[target], lrp.Compiled.MapWidth, lrp.Compiled.MapHeight, map);
                        var outcome = OcclusionCheck.Run(crop, FaceCrop.Size, heatmap, target, drift.OcclusionPatch, random, c =>
                        {
                            c.CopyTo(scorer!.Input);
                            scorer.Score(probs);
                            return probs[target];
                        });
                        monitor.RecordOcclusion(outcome.Disagrees);
                    }

                    if (++seen % every == 0)
                    {
                        var r = monitor.Report();
                        worstLevel = r.Level > worstLevel ? r.Level : worstLevel;
                        var worst = r.Signals.MaxBy(s => s.Psi)!;
                        Console.Out.WriteLine(FormattableString.Invariant(
                            $"{f.Label,-10} {seen,6} {r.WindowFaces,6} {DriftMessages.Name(r.Level),-12} {worst.Name + $" ({worst.Psi:F3})",-22} {r.Signals[3].Psi,9:F3} {r.Signals[^1].Psi,12:F3}  {r.OcclusionDisagreements,4}/{r.OcclusionChecks}"));
                        if (transport is not null)
                        {
                            var message = DriftMessages.ToProto(r, site!, kiosk!, analyzer.ModelSha256, monitor.Baseline, drift);
                            await transport.PublishAsync(EdgeTopics.Drift(site!, kiosk!), message.ToByteArray(), MqttQos.AtLeastOnce, retain: true, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }

            var last = monitor.Report();
            Console.Out.WriteLine($"final: {seen} faces, level {DriftMessages.Name(last.Level)}, worst seen {DriftMessages.Name(worstLevel)}, occlusion checks {last.OcclusionChecksTotal} (recent disagreements {last.OcclusionDisagreements}/{last.OcclusionChecks})");
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or OrtException or InvalidOperationException or MqttTransportException or NotSupportedException)
        {
            await Console.Error.WriteLineAsync($"edge drift {verb}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task<MosquittoTransport> ConnectAsync(string hostPort, string site, string kiosk, CancellationToken cancellationToken)
    {
        var cut = hostPort.LastIndexOf(':');
        var broker = new MqttBrokerOptions
        {
            Host = hostPort[..cut],
            Port = int.Parse(hostPort[(cut + 1)..], CultureInfo.InvariantCulture),
            ClientId = $"edge-drift-replay-{site}-{kiosk}",
            CleanStart = true,
        };
        var transport = new MosquittoTransport(broker, NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        try
        {
            await transport.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return transport;
        }
        catch
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
