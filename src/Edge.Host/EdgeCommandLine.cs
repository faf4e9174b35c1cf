using Edge.Host.Commands;

namespace Edge.Host;

/// <summary>The `edge` command line: one verb per job, each in its own type.</summary>
internal static class EdgeCommandLine
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var rest = args[1..];
        switch (args[0])
        {
            case "model" when rest.Length > 0 && rest[0] == "adapt":
                return await Commands.ModelAdaptCommand.RunAsync(rest[1..], cts.Token).ConfigureAwait(false);
            case "model" when rest.Length > 0 && rest[0] == "adapt-eval":
                return await Commands.ModelAdaptEvalCommand.RunAsync(rest[1..], cts.Token).ConfigureAwait(false);
            case "report":
                return await Commands.ReportBiasCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "drift":
                return await Commands.DriftCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "run":
                return await RunCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "score":
                return await Commands.ScoreCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "bench" when rest is ["pipeline", ..]:
                return await PipelineBenchCommand.RunAsync(rest[1..], cts.Token).ConfigureAwait(false);
            case "bench":
                return await Commands.BenchCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "model":
                return await Commands.ModelCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "explain":
                return await Commands.ExplainCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            case "doctor":
                return await DoctorCommand.RunAsync(rest, cts.Token).ConfigureAwait(false);
            default:
                await Console.Error.WriteLineAsync($"edge: unknown command '{args[0]}'\n\n{Usage}").ConfigureAwait(false);
                return 2;
        }
    }

    internal const string Usage = """
        usage: edge <command> [options]

        commands:
          doctor     what is installed, what is missing, and the command that fixes it
          run        the kiosk service: camera → scoring → explanations → outbox, /healthz and /metrics
          model      model build: convert the pinned TF.js source models to ONNX (+ manifest)
                     model adapt: a site model from the site's face crops (re-normalisation, head refit)
                     model adapt-eval: the adaptation experiment (clean vs camera-shifted crops)
          report     report bias --labels FILE.csv: per-group accuracy, happy mean, calibration, gaps with CIs
          drift      drift baseline (commissioning) | drift replay (a video through the drift watch)
          score      [--precision int8|fp32] [--json] IMAGE_OR_FOLDER...: faces and expression probabilities
          explain    IMAGE_OR_FOLDER --out DIR [--class happy] [--mode reduced|full] [--precision int8|fp32] [--json]: LRP heatmaps
                     explain verify FOLDER: occlusion AOPC of LRP vs gradient x input vs random, mouth share for smiles
          bench      bench score: p50/p99 per stage of detection + scoring on a 640x480 frame
                     bench pipeline: frames/s and p50/p99 per stage of the whole kiosk pipeline on a video
        """;
}
