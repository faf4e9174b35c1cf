namespace Edge.Onnx.Graph;

/// <summary>
/// One dimension of a declared input or output shape: a fixed size, or a symbolic name such as "N".
/// Converts implicitly from <see cref="long"/>, <see cref="int"/> and <see cref="string"/>, so shapes read
/// naturally: <c>AddInput("x", TensorElementType.Float, "N", 3, 64, 64)</c>.
/// </summary>
public readonly record struct Dim
{
    private Dim(long? value, string? symbol)
    {
        Value = value;
        Symbol = symbol;
    }

    /// <summary>The fixed size, or null when the dimension is symbolic.</summary>
    public long? Value { get; }

    /// <summary>The symbolic name, or null when the dimension is fixed.</summary>
    public string? Symbol { get; }

    public static Dim Fixed(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return new Dim(value, null);
    }

    public static Dim Symbolic(string symbol)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(symbol);
        return new Dim(null, symbol);
    }

    public static implicit operator Dim(long value) => Fixed(value);

    public static implicit operator Dim(int value) => Fixed(value);

    public static implicit operator Dim(string symbol) => Symbolic(symbol);

    public static Dim FromInt64(long value) => Fixed(value);

    public static Dim FromString(string symbol) => Symbolic(symbol);

    public override string ToString() => Symbol ?? Value!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
