namespace Edge.Bench;

/// <summary>`detector`: blazeface-back int8 against fp32 (filled in below).</summary>
internal static class DetectorBench
{
    public static int Run(bool quick)
    {
        _ = quick;
        Console.Error.WriteLine("detector: not implemented yet");
        return 1;
    }
}
