namespace Edge.Camera;

/// <summary>Decides when capture may run (e.g. a presence sensor). The default is always open.</summary>
public interface ICaptureGate
{
    bool IsOpen { get; }

    /// <summary>Completes when the gate is open.</summary>
    Task WaitOpenAsync(CancellationToken cancellationToken);
}

/// <summary>Told when the camera is in use (e.g. a capture LED).</summary>
public interface ICaptureIndicator
{
    void SetCapturing(bool capturing);
}

/// <summary>No gate: capture runs whenever the service runs.</summary>
public sealed class AlwaysOpenGate : ICaptureGate
{
    public static AlwaysOpenGate Instance { get; } = new();

    public bool IsOpen => true;

    public Task WaitOpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>No indicator.</summary>
public sealed class NoCaptureIndicator : ICaptureIndicator
{
    public static NoCaptureIndicator Instance { get; } = new();

    public void SetCapturing(bool capturing)
    {
    }
}
