using Microsoft.Extensions.Logging;

namespace Edge.Explain.Faces;

/// <summary>Source-generated log messages of the face stage of Edge.Explain (event ids 3000–3099).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Face analyzer ready: {ModelId} ({ScorerPath}), detector {DetectorPath} at {InputSize}x{InputSize}")]
    public static partial void AnalyzerReady(ILogger logger, string modelId, string scorerPath, string detectorPath, int inputSize);
}
