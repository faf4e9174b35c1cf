using Edge.Bench;

// edge benchmarks: `dotnet run -c Release --project bench/Edge.Bench -- quant|detector [--quick]`
const string Usage = """
    usage: Edge.Bench <command> [--quick]
      quant      emotion model: int8 vs fp32 agreement on real face crops per calibration method, then latency
                 (BenchmarkDotNet, in-process, one ORT thread, batch 1)
      detector   blazeface-back: int8 vs fp32 best-anchor agreement and score change, then latency
      sensitivity  emotion model: the error each layer's quantization adds (a diagnostic)
      profile FP32 INT8  cumulative latency of graph prefixes and session settings, interleaved (a diagnostic)
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
    "quant" => QuantBench.Run(quick),
    "detector" => DetectorBench.Run(quick),
    "sensitivity" => SensitivityBench.Run(new Edge.Onnx.Quantization.QuantizerOptions()),
    "variants" => VariantsBench.Run(quick),
    "graph" when args.Length >= 2 => GraphDump.Run(args[1]),
    "profile" when args.Length >= 3 => ProfileBench.Run(args[1], args[2], quick ? 300 : 2000),
    _ => Fail(),
};

static int Fail()
{
    Console.Error.WriteLine(Usage);
    return 2;
}
