namespace Edge.Onnx.Runtime;

/// <summary>ORT's error codes (<c>OrtErrorCode</c> in onnxruntime_c_api.h).</summary>
public enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    EpFail = 11,
    ModelLoadCanceled = 12,
    ModelRequiresCompilation = 13,
    NotFound = 14,
}

/// <summary>An error reported by ONNX Runtime: its code and its own message, unchanged.</summary>
public sealed class OrtException : Exception
{
    public OrtException()
        : this(OrtErrorCode.Fail, "ONNX Runtime reported an error.")
    {
    }

    public OrtException(string message)
        : this(OrtErrorCode.Fail, message)
    {
    }

    public OrtException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = OrtErrorCode.Fail;
        OrtMessage = message;
    }

    public OrtException(OrtErrorCode errorCode, string ortMessage)
        : base($"ONNX Runtime error {errorCode}: {ortMessage}")
    {
        ErrorCode = errorCode;
        OrtMessage = ortMessage;
    }

    public OrtErrorCode ErrorCode { get; }

    /// <summary>The message exactly as ORT wrote it.</summary>
    public string OrtMessage { get; }
}
