using System.Runtime.InteropServices;

namespace Edge.Onnx.Runtime;

/// <summary>
/// The ORT C API function table (<c>OrtApi</c> in onnxruntime_c_api.h) as typed unmanaged function pointers.
/// Slots are 0-based indices into the table; ORT only appends to it, so a slot counted in one release holds in
/// every later one. Each slot used here is exercised by a test against the real 1.30.0 library.
/// </summary>
internal sealed unsafe class OrtApi
{
    /// <summary>The API version we ask <c>GetApi</c> for: 1.23 added nothing we need beyond it; 1.30 accepts up to 30.</summary>
    public const uint ApiVersion = 23;

    // Slot indices, counted from onnxruntime_c_api.h (struct OrtApi) and ORT's C# NativeMethods.shared.cs.
    internal const int SlotCreateStatus = 0;
    internal const int SlotGetErrorCode = 1;
    internal const int SlotGetErrorMessage = 2;
    internal const int SlotCreateEnvWithCustomLogger = 4;
    internal const int SlotCreateSession = 7;
    internal const int SlotCreateSessionFromArray = 8;
    internal const int SlotRun = 9;
    internal const int SlotCreateSessionOptions = 10;
    internal const int SlotSetOptimizedModelFilePath = 11;
    internal const int SlotSetSessionExecutionMode = 13;
    internal const int SlotEnableProfiling = 14;
    internal const int SlotSetSessionGraphOptimizationLevel = 23;
    internal const int SlotSetIntraOpNumThreads = 24;
    internal const int SlotSetInterOpNumThreads = 25;
    internal const int SlotSessionGetInputCount = 30;
    internal const int SlotSessionGetOutputCount = 31;
    internal const int SlotSessionGetInputTypeInfo = 33;
    internal const int SlotSessionGetOutputTypeInfo = 34;
    internal const int SlotSessionGetInputName = 36;
    internal const int SlotSessionGetOutputName = 37;
    internal const int SlotCreateRunOptions = 39;
    internal const int SlotRunOptionsSetTerminate = 46;
    internal const int SlotCreateTensorWithDataAsOrtValue = 49;
    internal const int SlotIsTensor = 50;
    internal const int SlotGetTensorMutableData = 51;
    internal const int SlotCastTypeInfoToTensorInfo = 55;
    internal const int SlotGetOnnxTypeFromTypeInfo = 56;
    internal const int SlotGetTensorElementType = 60;
    internal const int SlotGetDimensionsCount = 61;
    internal const int SlotGetDimensions = 62;
    internal const int SlotGetTensorTypeAndShape = 65;
    internal const int SlotCreateCpuMemoryInfo = 69;
    internal const int SlotAllocatorFree = 76;
    internal const int SlotGetAllocatorWithDefaultOptions = 78;
    internal const int SlotReleaseEnv = 92;
    internal const int SlotReleaseStatus = 93;
    internal const int SlotReleaseMemoryInfo = 94;
    internal const int SlotReleaseSession = 95;
    internal const int SlotReleaseValue = 96;
    internal const int SlotReleaseRunOptions = 97;
    internal const int SlotReleaseTypeInfo = 98;
    internal const int SlotReleaseTensorTypeAndShapeInfo = 99;
    internal const int SlotReleaseSessionOptions = 100;
    internal const int SlotGetAvailableProviders = 125;
    internal const int SlotReleaseAvailableProviders = 126;
    internal const int SlotAddSessionConfigEntry = 130;
    internal const int SlotAppendExecutionProviderCudaV2 = 204;
    internal const int SlotCreateCudaProviderOptions = 205;
    internal const int SlotUpdateCudaProviderOptions = 206;
    internal const int SlotReleaseCudaProviderOptions = 208;
    internal const int SlotAppendExecutionProvider = 216;
    internal const int SlotGetBuildInfoString = 254;
    internal const int SlotAppendExecutionProviderOpenVinoV2 = 275;

    private readonly nint* _table;

    public OrtApi(nint* table)
    {
        _table = table;
        CreateStatus = (delegate* unmanaged[Cdecl]<int, byte*, nint>)_table[SlotCreateStatus];
        GetErrorCode = (delegate* unmanaged[Cdecl]<nint, int>)_table[SlotGetErrorCode];
        GetErrorMessage = (delegate* unmanaged[Cdecl]<nint, byte*>)_table[SlotGetErrorMessage];
        CreateEnvWithCustomLogger = (delegate* unmanaged[Cdecl]<delegate* unmanaged[Cdecl]<nint, int, byte*, byte*, byte*, byte*, void>, nint, int, byte*, nint*, nint>)_table[SlotCreateEnvWithCustomLogger];
        CreateSession = (delegate* unmanaged[Cdecl]<nint, void*, nint, nint*, nint>)_table[SlotCreateSession];
        CreateSessionFromArray = (delegate* unmanaged[Cdecl]<nint, void*, nuint, nint, nint*, nint>)_table[SlotCreateSessionFromArray];
        Run = (delegate* unmanaged[Cdecl]<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)_table[SlotRun];
        CreateSessionOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)_table[SlotCreateSessionOptions];
        SetOptimizedModelFilePath = (delegate* unmanaged[Cdecl]<nint, void*, nint>)_table[SlotSetOptimizedModelFilePath];
        SetSessionExecutionMode = (delegate* unmanaged[Cdecl]<nint, int, nint>)_table[SlotSetSessionExecutionMode];
        EnableProfiling = (delegate* unmanaged[Cdecl]<nint, void*, nint>)_table[SlotEnableProfiling];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged[Cdecl]<nint, int, nint>)_table[SlotSetSessionGraphOptimizationLevel];
        SetIntraOpNumThreads = (delegate* unmanaged[Cdecl]<nint, int, nint>)_table[SlotSetIntraOpNumThreads];
        SetInterOpNumThreads = (delegate* unmanaged[Cdecl]<nint, int, nint>)_table[SlotSetInterOpNumThreads];
        SessionGetInputCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)_table[SlotSessionGetInputCount];
        SessionGetOutputCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)_table[SlotSessionGetOutputCount];
        SessionGetInputTypeInfo = (delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)_table[SlotSessionGetInputTypeInfo];
        SessionGetOutputTypeInfo = (delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)_table[SlotSessionGetOutputTypeInfo];
        SessionGetInputName = (delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)_table[SlotSessionGetInputName];
        SessionGetOutputName = (delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)_table[SlotSessionGetOutputName];
        CreateRunOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)_table[SlotCreateRunOptions];
        RunOptionsSetTerminate = (delegate* unmanaged[Cdecl]<nint, nint>)_table[SlotRunOptionsSetTerminate];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint>)_table[SlotCreateTensorWithDataAsOrtValue];
        IsTensor = (delegate* unmanaged[Cdecl]<nint, int*, nint>)_table[SlotIsTensor];
        GetTensorMutableData = (delegate* unmanaged[Cdecl]<nint, void**, nint>)_table[SlotGetTensorMutableData];
        CastTypeInfoToTensorInfo = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)_table[SlotCastTypeInfoToTensorInfo];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged[Cdecl]<nint, int*, nint>)_table[SlotGetOnnxTypeFromTypeInfo];
        GetTensorElementType = (delegate* unmanaged[Cdecl]<nint, int*, nint>)_table[SlotGetTensorElementType];
        GetDimensionsCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)_table[SlotGetDimensionsCount];
        GetDimensions = (delegate* unmanaged[Cdecl]<nint, long*, nuint, nint>)_table[SlotGetDimensions];
        GetTensorTypeAndShape = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)_table[SlotGetTensorTypeAndShape];
        CreateCpuMemoryInfo = (delegate* unmanaged[Cdecl]<int, int, nint*, nint>)_table[SlotCreateCpuMemoryInfo];
        AllocatorFree = (delegate* unmanaged[Cdecl]<nint, void*, nint>)_table[SlotAllocatorFree];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)_table[SlotGetAllocatorWithDefaultOptions];
        ReleaseEnv = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseEnv];
        ReleaseStatus = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseStatus];
        ReleaseMemoryInfo = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseMemoryInfo];
        ReleaseSession = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseSession];
        ReleaseValue = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseValue];
        ReleaseRunOptions = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseRunOptions];
        ReleaseTypeInfo = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseTypeInfo];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseTensorTypeAndShapeInfo];
        ReleaseSessionOptions = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseSessionOptions];
        GetAvailableProviders = (delegate* unmanaged[Cdecl]<byte***, int*, nint>)_table[SlotGetAvailableProviders];
        ReleaseAvailableProviders = (delegate* unmanaged[Cdecl]<byte**, int, nint>)_table[SlotReleaseAvailableProviders];
        AddSessionConfigEntry = (delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint>)_table[SlotAddSessionConfigEntry];
        AppendExecutionProviderCudaV2 = (delegate* unmanaged[Cdecl]<nint, nint, nint>)_table[SlotAppendExecutionProviderCudaV2];
        CreateCudaProviderOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)_table[SlotCreateCudaProviderOptions];
        UpdateCudaProviderOptions = (delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint>)_table[SlotUpdateCudaProviderOptions];
        ReleaseCudaProviderOptions = (delegate* unmanaged[Cdecl]<nint, void>)_table[SlotReleaseCudaProviderOptions];
        AppendExecutionProvider = (delegate* unmanaged[Cdecl]<nint, byte*, byte**, byte**, nuint, nint>)_table[SlotAppendExecutionProvider];
        GetBuildInfoString = (delegate* unmanaged[Cdecl]<byte*>)_table[SlotGetBuildInfoString];
        AppendExecutionProviderOpenVinoV2 = (delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint>)_table[SlotAppendExecutionProviderOpenVinoV2];
    }

    public readonly delegate* unmanaged[Cdecl]<int, byte*, nint> CreateStatus;
    public readonly delegate* unmanaged[Cdecl]<nint, int> GetErrorCode;
    public readonly delegate* unmanaged[Cdecl]<nint, byte*> GetErrorMessage;
    public readonly delegate* unmanaged[Cdecl]<delegate* unmanaged[Cdecl]<nint, int, byte*, byte*, byte*, byte*, void>, nint, int, byte*, nint*, nint> CreateEnvWithCustomLogger;
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nint, nint*, nint> CreateSession;
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray;
    public readonly delegate* unmanaged[Cdecl]<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run;
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateSessionOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nint> SetOptimizedModelFilePath;
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionExecutionMode;
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nint> EnableProfiling;
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionGraphOptimizationLevel;
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetIntraOpNumThreads;
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetInterOpNumThreads;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> SessionGetInputCount;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> SessionGetOutputCount;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint> SessionGetInputName;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint> SessionGetOutputName;
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateRunOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, nint> RunOptionsSetTerminate;
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint> CreateTensorWithDataAsOrtValue;
    public readonly delegate* unmanaged[Cdecl]<nint, int*, nint> IsTensor;
    public readonly delegate* unmanaged[Cdecl]<nint, void**, nint> GetTensorMutableData;
    public readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> CastTypeInfoToTensorInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, int*, nint> GetOnnxTypeFromTypeInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, int*, nint> GetTensorElementType;
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> GetDimensionsCount;
    public readonly delegate* unmanaged[Cdecl]<nint, long*, nuint, nint> GetDimensions;
    public readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> GetTensorTypeAndShape;
    public readonly delegate* unmanaged[Cdecl]<int, int, nint*, nint> CreateCpuMemoryInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nint> AllocatorFree;
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> GetAllocatorWithDefaultOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseEnv;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseStatus;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseMemoryInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseSession;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseValue;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseRunOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseTypeInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseTensorTypeAndShapeInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseSessionOptions;
    public readonly delegate* unmanaged[Cdecl]<byte***, int*, nint> GetAvailableProviders;
    public readonly delegate* unmanaged[Cdecl]<byte**, int, nint> ReleaseAvailableProviders;
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint> AddSessionConfigEntry;
    public readonly delegate* unmanaged[Cdecl]<nint, nint, nint> AppendExecutionProviderCudaV2;
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateCudaProviderOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint> UpdateCudaProviderOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseCudaProviderOptions;
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, byte**, byte**, nuint, nint> AppendExecutionProvider;
    public readonly delegate* unmanaged[Cdecl]<byte*> GetBuildInfoString;
    public readonly delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint> AppendExecutionProviderOpenVinoV2;

    /// <summary>Turns an <c>OrtStatus*</c> into an exception (and releases the status); null means success.</summary>
    public OrtException? ToException(nint status)
    {
        if (status == 0)
        {
            return null;
        }

        try
        {
            var code = (OrtErrorCode)GetErrorCode(status);
            var message = Marshal.PtrToStringUTF8((nint)GetErrorMessage(status)) ?? string.Empty;
            return new OrtException(code, message);
        }
        finally
        {
            ReleaseStatus(status);
        }
    }

    /// <summary>Throws <see cref="OrtException"/> when the status is not success.</summary>
    public void Check(nint status)
    {
        if (status != 0)
        {
            throw ToException(status)!;
        }
    }
}
