using System.Diagnostics;

namespace Edge.Host.Tests.Commands;

/// <summary>The built edge.dll run as a user runs it: a child process, with the test's models.</summary>
internal static class EdgeProcess
{
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string modelsDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edge.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["EDGE_MODELS"] = modelsDirectory;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
