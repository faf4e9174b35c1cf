using Edge.Bench;

// edge benchmarks: `dotnet run -c Release --project bench/Edge.Bench -- quant|detector [--quick]`
const string Usage = """
    usage: Edge.Bench <command> [--quick]
      quant      emotion model: int8 vs fp32 agreement on real face crops per calibration method, then latency
                 (BenchmarkDotNet, in-process, one ORT thread, batch 1)
      detector   blazeface-back: int8 vs fp32 best-anchor agreement and score change, then latency
      sensitivity  emotion model: the error each layer's quantization adds (a diagnostic)
      variants   a few quantizer settings, in-sample agreement and interleaved latency (a diagnostic)
      profile FP32 INT8 [INT8...]  whole models interleaved, then ORT's per-node profile, warm and after fp32
      graph FILE the nodes of an ONNX file (e.g. ORT's optimised graph)
      --splits=N (quant) N splits of the photos into two folds: mean held-out agreement, no latency
      --leave-one-out (quant) one fold per photo instead of two: each photo scored by a model calibrated on all the
                 others (no latency)
      --configs=A,B (quant) only the configurations whose names start with A or B (the defaults always run)
      --quick    fewer benchmark iterations (a smoke run, not for reported figures)
    """;

if (args.Length == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

var quick = args.Contains("--quick");
return args[0] switch
{
    "quant" => QuantBench.Run(quick, Splits(args), args.Contains("--leave-one-out"), Option(args, "--configs=")?.Split(',') ?? []),
    "detector" => DetectorBench.Run(quick),
    "sensitivity" => SensitivityBench.Run(new Edge.Onnx.Quantization.QuantizerOptions()),
    "variants" => VariantsBench.Run(quick),
    "graph" when args.Length >= 2 => GraphDump.Run(args[1]),
    "profile" when args.Length >= 3 => ProfileBench.Run([.. args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal))], quick ? 300 : 2000),
    _ => Fail(),
};

static int Splits(string[] args) =>
    Option(args, "--splits=") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 1;

static string? Option(string[] args, string prefix) =>
    args.FirstOrDefault(a => a.StartsWith(prefix, StringComparison.Ordinal)) is { } a ? a[prefix.Length..] : null;

static int Fail()
{
    Console.Error.WriteLine(Usage);
    return 2;
}
