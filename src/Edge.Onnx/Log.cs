using Microsoft.Extensions.Logging;

namespace Edge.Onnx;

/// <summary>Every log line Edge.Onnx writes, with stable event ids.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Message = "ORT [{Category}] {Message} ({CodeLocation})")]
    public static partial void OrtMessage(ILogger logger, LogLevel level, string category, string message, string codeLocation);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "ONNX Runtime {Version} loaded from {LibraryPath}")]
    public static partial void LibraryLoaded(ILogger logger, string version, string libraryPath);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Execution provider {Provider} appended")]
    public static partial void ProviderAppended(ILogger logger, string provider);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Execution provider {Provider} could not be used, trying the next one (CPU is always last): {OrtMessage}")]
    public static partial void ProviderFailed(ILogger logger, string provider, string ortMessage);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Execution provider {Provider} is not in this ONNX Runtime build: {Reason}; trying the next one (CPU is always last)")]
    public static partial void ProviderUnavailable(ILogger logger, string provider, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Execution providers listed after CPU are ignored because ORT always runs CPU last: {Ignored}")]
    public static partial void ProvidersAfterCpuIgnored(ILogger logger, string ignored);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Session created: inputs {Inputs}, outputs {Outputs}, providers {Providers}")]
    public static partial void SessionCreated(ILogger logger, string inputs, string outputs, string providers);
}
