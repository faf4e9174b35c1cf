using System.Runtime.InteropServices;

namespace Edge.Onnx.Runtime;

/// <summary>A native ORT object owned by exactly one managed object and released exactly once.</summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle(nint handle)
        : base(0, ownsHandle: true)
    {
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    protected static OrtApi Api => OrtNative.Api;
}

internal sealed class OrtEnvHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseEnv(handle);
        return true;
    }
}

internal sealed class OrtSessionOptionsHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseSessionOptions(handle);
        return true;
    }
}

internal sealed class OrtSessionHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseSession(handle);
        return true;
    }
}

internal sealed class OrtMemoryInfoHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseMemoryInfo(handle);
        return true;
    }
}

internal sealed class OrtValueHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseValue(handle);
        return true;
    }
}

internal sealed class OrtTypeInfoHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseTypeInfo(handle);
        return true;
    }
}

internal sealed class OrtTensorTypeAndShapeInfoHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseTensorTypeAndShapeInfo(handle);
        return true;
    }
}

internal sealed class OrtRunOptionsHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseRunOptions(handle);
        return true;
    }
}

internal sealed class OrtCudaProviderOptionsHandle(nint handle) : OrtHandle(handle)
{
    protected override unsafe bool ReleaseHandle()
    {
        Api.ReleaseCudaProviderOptions(handle);
        return true;
    }
}
