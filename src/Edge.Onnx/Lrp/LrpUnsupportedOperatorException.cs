namespace Edge.Onnx.Lrp;

/// <summary>The scoring graph holds an operator (or an operator configuration) that no LRP rule here explains.</summary>
public sealed class LrpUnsupportedOperatorException : NotSupportedException
{
    public LrpUnsupportedOperatorException()
    {
        OperatorName = "";
    }

    public LrpUnsupportedOperatorException(string message)
        : base(message)
    {
        OperatorName = "";
    }

    public LrpUnsupportedOperatorException(string message, Exception innerException)
        : base(message, innerException)
    {
        OperatorName = "";
    }

    public LrpUnsupportedOperatorException(string operatorName, string nodeName, string why)
        : base($"LRP cannot explain operator '{operatorName}' (node '{nodeName}'): {why}")
    {
        OperatorName = operatorName;
    }

    /// <summary>The ONNX op_type that was refused.</summary>
    public string OperatorName { get; }
}
