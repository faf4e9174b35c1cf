using System.Diagnostics;
using System.Text.Json;

namespace Edge.Host.Tests;

/// <summary>deploy/: the unit files and install.sh, staged into a temp root (nothing is installed on or started on this machine).</summary>
public sealed class DeployTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Edge.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root (Edge.sln) not found above the test binaries");
    }

    private static (int Code, string Output) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }

        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    /// <summary>Stages an install into a temp root with a stand-in models folder and ORT library.</summary>
    private static (string Root, string Output) StageInstall()
    {
        var root = Directory.CreateTempSubdirectory("edge-install-root-").FullName;
        var models = Directory.CreateTempSubdirectory("edge-install-models-").FullName;
        File.WriteAllText(Path.Combine(models, "manifest.json"), "{}");
        var ort = Path.Combine(models, "libonnxruntime.so.1");
        File.WriteAllText(ort, "stand-in");
        var (code, output) = Run(Path.Combine(RepoRoot, "deploy/install.sh"), ["--root", root],
            new Dictionary<string, string> { ["EDGE_MODELS"] = models, ["EDGE_ORT_LIBRARY"] = ort, ["EDGE_CACHE"] = models });
        Assert.True(code == 0, output);
        return (root, output);
    }

    [Fact]
    public void EdgeService_Unit_HasTheServiceContract()
    {
        var unit = File.ReadAllLines(Path.Combine(RepoRoot, "deploy/systemd/edge.service"));

        foreach (var line in new[]
        {
            "Type=notify", "WatchdogSec=60s", "User=edge", "ProtectSystem=strict", "StateDirectory=edge", "Restart=on-failure",
            "RestartPreventExitStatus=78", "StartLimitBurst=5", "DevicePolicy=closed", "DeviceAllow=char-video4linux rw",
            "Environment=EDGE_Sync__Outbox__Path=/var/lib/edge/outbox.db", "Environment=MALLOC_ARENA_MAX=2",
        })
        {
            Assert.Contains(line, unit);
        }

        Assert.Contains(unit, l => l.StartsWith("ExecStart=/opt/edge/bin/edge run --config /etc/edge/edge.json", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, "MALLOC_ARENA_MAX=2")]
    [InlineData("4", "MALLOC_ARENA_MAX=4")]
    public async Task EdgeWrapper_ForwardedCommand_StartsWithTwoMallocArenasUnlessTold(string? preset, string expected)
    {
        // ./edge hands `doctor` to the binary, which reports the variable it was started with.
        var start = new ProcessStartInfo(Path.Combine(RepoRoot, "edge")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("doctor");
        start.Environment.Remove("MALLOC_ARENA_MAX");
        if (preset is not null)
        {
            start.Environment["MALLOC_ARENA_MAX"] = preset;
        }

        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Contains(output.Split('\n'), l => l.Contains("malloc arenas", StringComparison.Ordinal) && l.TrimEnd().EndsWith(expected, StringComparison.Ordinal));
        Assert.True(p.ExitCode == 0, output + await stderr);
    }

    [Fact]
    public void InstallSh_StagingRoot_PlacesBinaryUnitsAndConfigAndStartsNothing()
    {
        var (root, output) = StageInstall();

        Assert.True(File.Exists(Path.Combine(root, "opt/edge/bin/edge")));
        Assert.True(File.Exists(Path.Combine(root, "opt/edge/lib/libonnxruntime.so.1")));
        Assert.True(File.Exists(Path.Combine(root, "opt/edge/models/manifest.json")));
        Assert.True(File.Exists(Path.Combine(root, "etc/edge/edge.json")));
        var unit = File.ReadAllText(Path.Combine(root, "etc/systemd/system/edge.service"));
        Assert.Contains("ExecStart=/opt/edge/bin/edge run", unit, StringComparison.Ordinal);
        Assert.Contains("systemctl not run", output, StringComparison.Ordinal);
        Assert.DoesNotContain("creating system user", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The GC settings that keep the kiosk's memory flat (issue 5; Edge.Host README, "Memory") are in the installed
    /// edge.runtimeconfig.json, so the service gets them without any environment: one workstation heap, gen0 budget at
    /// most 4 MB.
    /// </summary>
    [Fact]
    public void InstallSh_StagingRoot_RuntimeConfigHasWorkstationGcWithFixedGen0Budget()
    {
        var (root, _) = StageInstall();

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "opt/edge/bin/edge.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.Equal(4L * 1024 * 1024, properties.GetProperty("System.GC.Gen0MaxBudget").GetInt64());
    }

    [Fact]
    public void InstallSh_RelativePrefix_RefusesWithMessage()
    {
        var (code, output) = Run(Path.Combine(RepoRoot, "deploy/install.sh"), ["--root", Path.GetTempPath(), "--prefix", "opt/edge"]);

        Assert.NotEqual(0, code);
        Assert.Contains("--prefix must be absolute", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// systemd-analyze verify on the staged units, pointed at the staged binary. Where systemd-analyze is not
    /// installed this test checks nothing more (the unit contract test above still runs).
    /// </summary>
    [Fact]
    public void Verify_StagedEdgeUnit_SystemdAnalyzeReportsNothing()
    {
        const string Tool = "/usr/bin/systemd-analyze";
        if (!File.Exists(Tool))
        {
            return;
        }

        var (root, _) = StageInstall();
        var staged = Path.Combine(root, "verify");
        Directory.CreateDirectory(staged);
        var unit = Path.Combine(staged, "edge.service");
        File.WriteAllText(unit, File.ReadAllText(Path.Combine(root, "etc/systemd/system/edge.service")).Replace("/opt/edge", Path.Combine(root, "opt/edge"), StringComparison.Ordinal));

        var (code, output) = Run(Tool, ["verify", unit]);

        Assert.True(code == 0 && output.Trim().Length == 0, $"systemd-analyze verify: exit {code}\n{output}");
    }

    [Fact]
    public void Verify_BrokenUnit_SystemdAnalyzeComplains()
    {
        const string Tool = "/usr/bin/systemd-analyze";
        if (!File.Exists(Tool))
        {
            return;
        }

        var dir = Directory.CreateTempSubdirectory("edge-verify-").FullName;
        var unit = Path.Combine(dir, "edge.service");
        File.WriteAllText(unit, File.ReadAllText(Path.Combine(RepoRoot, "deploy/systemd/edge.service"))
            .Replace("Type=notify", "Type=notfiy", StringComparison.Ordinal));

        var (_, output) = Run(Tool, ["verify", unit]);

        Assert.Contains("Failed to parse service type", output, StringComparison.Ordinal);
    }
}
