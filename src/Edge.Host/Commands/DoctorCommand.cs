using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Edge.Onnx;
using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Edge.Host.Commands;

/// <summary>How one doctor check came out.</summary>
internal enum DoctorStatus
{
    Ok,
    Warn,
    Missing,
}

/// <summary>One line of the doctor's report; <see cref="Fix"/> is the command that repairs it.</summary>
internal sealed record DoctorCheck(string Name, DoctorStatus Status, bool Required, string Detail, string? Fix = null);

internal sealed record DoctorReport(IReadOnlyList<DoctorCheck> Checks)
{
    /// <summary>0 when every required part is present, 1 otherwise.</summary>
    public int ExitCode => Checks.Any(c => c.Required && c.Status == DoctorStatus.Missing) ? 1 : 0;

    public DoctorCheck this[string name] => Checks.First(c => c.Name == name);

    public void WriteTo(TextWriter output)
    {
        output.WriteLine("edge doctor");
        foreach (var c in Checks)
        {
            var tag = c.Status switch
            {
                DoctorStatus.Ok => "[ok]     ",
                DoctorStatus.Warn => "[warn]   ",
                _ => c.Required ? "[MISSING]" : "[absent] ",
            };
            var lines = c.Detail.Split('\n');
            output.WriteLine($"  {tag} {c.Name,-20} {lines[0]}");
            foreach (var more in lines.Skip(1))
            {
                output.WriteLine($"  {string.Empty,-9} {string.Empty,-20}   {more}");
            }

            if (c.Status != DoctorStatus.Ok && c.Fix is not null)
            {
                output.WriteLine($"  {string.Empty,-9} {string.Empty,-20}   fix: {c.Fix}");
            }
        }

        output.WriteLine(ExitCode == 0 ? "all required parts are present" : "required parts are missing (see fix: lines)");
    }
}

/// <summary>
/// <c>edge doctor</c>: the ONNX Runtime library and version, the providers it has and the ones the
/// configuration would actually get, ffmpeg, Mosquitto, libmosquitto, libgpiod, PostgreSQL — and the command
/// that fixes whatever is missing.
/// </summary>
internal static class DoctorCommand
{
    internal const string SetupFix = "./edge setup";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length > 0)
        {
            await Console.Error.WriteLineAsync("usage: edge doctor   (configuration: appsettings.json, Onnx__* environment variables)").ConfigureAwait(false);
            return 2;
        }

        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .Build();
        var report = await InspectAsync(configuration, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        report.WriteTo(Console.Out);
        return report.ExitCode;
    }

    public static async Task<DoctorReport> InspectAsync(IConfiguration configuration, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var checks = new List<DoctorCheck>();
        checks.AddRange(InspectOnnxRuntime(OnnxRuntimeOptions.FromConfiguration(configuration)));

        var ffmpeg = await FirstLineAsync("ffmpeg", ["-version"], timeProvider, cancellationToken).ConfigureAwait(false);
        checks.Add(ffmpeg is null
            ? new DoctorCheck("ffmpeg", DoctorStatus.Missing, true, "ffmpeg not found on PATH (the camera stage runs it)", SetupFix)
            : new DoctorCheck("ffmpeg", DoctorStatus.Ok, true, ffmpeg));

        var mosquitto = await FirstLineAsync("mosquitto", ["-h"], timeProvider, cancellationToken).ConfigureAwait(false);
        checks.Add(mosquitto is null
            ? new DoctorCheck("mosquitto", DoctorStatus.Missing, true, "mosquitto (the local MQTT broker) not found", SetupFix)
            : new DoctorCheck("mosquitto", DoctorStatus.Ok, true, mosquitto));

        checks.Add(NativeLibraryCheck("libmosquitto.so.1", required: true, "MQTT client library, Debian libmosquitto1"));
        checks.Add(NativeLibraryCheck("libgpiod.so.2", required: false, "GPIO presence sensor, optional, Debian libgpiod2"));
        checks.Add(await InspectPostgresAsync(timeProvider, cancellationToken).ConfigureAwait(false));
        checks.Add(MallocArenaCheck(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX")));
        return new DoctorReport(checks);
    }

    private static List<DoctorCheck> InspectOnnxRuntime(OnnxRuntimeOptions options)
    {
        var checks = new List<DoctorCheck>();
        var logs = new ListLoggerFactory();
        OrtEnvironment env;
        try
        {
            env = OrtEnvironment.Create(options.ToEnvironmentOptions(), logs);
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or InvalidOperationException or OrtException)
        {
            checks.Add(new DoctorCheck("onnxruntime", DoctorStatus.Missing, true, e.Message, SetupFix));
            return checks;
        }

        using (env)
        {
            var versionOk = env.Version == OrtLibraryLocator.ExpectedVersion;
            checks.Add(new DoctorCheck(
                "onnxruntime",
                versionOk ? DoctorStatus.Ok : DoctorStatus.Warn,
                true,
                $"{env.Version} at {env.LibraryPath}" + (versionOk ? string.Empty : $" (Edge is tested with {OrtLibraryLocator.ExpectedVersion})"),
                SetupFix));
            checks.Add(new DoctorCheck("providers (library)", DoctorStatus.Ok, false, string.Join(", ", env.AvailableProviders)));

            var configured = options.EffectiveProviders();
            try
            {
                using var session = env.CreateSession(ProbeModel(), options.ToSessionSettings());
                var y = session.Run(NamedTensor.FromFloat("x", [-1f, 2f], 2))[0].AsFloat();
                if (y[0] != 0f || y[1] != 2f)
                {
                    checks.Add(new DoctorCheck("providers (used)", DoctorStatus.Missing, true, $"a Relu probe gave [{y[0]}, {y[1]}], not [0, 2]", SetupFix));
                    return checks;
                }

                var fellBack = logs.Warnings();
                var planned = OrtEnvironment.PlanProviders(configured);
                var detail = $"{string.Join(", ", session.ActiveProviders)}   (configured: {string.Join(", ", configured)}; planned: {string.Join(", ", planned)})";
                if (fellBack.Count > 0)
                {
                    detail += "\n" + string.Join("\n", fellBack);
                }

                checks.Add(new DoctorCheck(
                    "providers (used)",
                    fellBack.Count == 0 ? DoctorStatus.Ok : DoctorStatus.Warn,
                    true,
                    detail,
                    "install the provider's own libraries and drivers, or set Onnx:Providers (e.g. Onnx__Providers=CPU)"));
            }
            catch (OrtException e)
            {
                checks.Add(new DoctorCheck("providers (used)", DoctorStatus.Missing, true, $"a probe session failed: {e.Message}", SetupFix));
            }
        }

        return checks;
    }

    /// <summary>y = Relu(x), x float[2]: small enough to build in a millisecond, real enough to prove a session runs.</summary>
    private static byte[] ProbeModel()
    {
        var b = new OnnxGraphBuilder("doctor-probe");
        b.AddInput("x", TensorElementType.Float, 2);
        b.AddNode("Relu", ["x"], ["y"]);
        b.AddOutput("y", TensorElementType.Float, 2);
        return b.ToBytes();
    }

    /// <summary>
    /// glibc's thread arenas (src/Edge.Host/README.md, "Memory"): the cap must come from the environment at start, because
    /// glibc fixes its limit when the runtime's first threads malloc, before any code of ours runs.
    /// </summary>
    internal static DoctorCheck MallocArenaCheck(string? value) => string.IsNullOrEmpty(value)
        ? new DoctorCheck("malloc arenas", DoctorStatus.Warn, false,
            "MALLOC_ARENA_MAX is not set: glibc may give each thread an arena of its own, and the kiosk's RSS creeps",
            "start edge through ./edge or deploy/systemd/edge.service (both set MALLOC_ARENA_MAX=2), or set it yourself")
        : new DoctorCheck("malloc arenas", DoctorStatus.Ok, false, $"MALLOC_ARENA_MAX={value}");

    private static DoctorCheck NativeLibraryCheck(string name, bool required, string purpose)
    {
        if (NativeLibrary.TryLoad(name, out var handle))
        {
            NativeLibrary.Free(handle);
            return new DoctorCheck(name, DoctorStatus.Ok, required, $"loads — {purpose}");
        }

        return new DoctorCheck(name, required ? DoctorStatus.Missing : DoctorStatus.Warn, required, $"not found — {purpose}", SetupFix);
    }

    private static async Task<DoctorCheck> InspectPostgresAsync(TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var psql = await FirstLineAsync("psql", ["--version"], timeProvider, cancellationToken).ConfigureAwait(false);
        var servers = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Where(d => File.Exists(Path.Combine(d, "bin", "postgres"))).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()
            : [];
        if (servers.Length > 0)
        {
            return new DoctorCheck("postgresql", DoctorStatus.Ok, false, $"server {string.Join(", ", servers)} installed" + (psql is null ? string.Empty : $"; {psql}") + " (start: pg_ctlcluster <version> main start)");
        }

        return new DoctorCheck("postgresql", DoctorStatus.Warn, false, "no PostgreSQL server (optional: the audit store uses SQLite unless configured)" + (psql is null ? string.Empty : $"; client {psql}"), SetupFix);
    }

    /// <summary>First non-empty line a tool prints (stdout, else stderr), or null when it cannot be started.</summary>
    internal static async Task<string?> FirstLineAsync(string tool, string[] arguments, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception($"{tool} did not start");
        }
        catch (Win32Exception)
        {
            return null;
        }

        using (process)
        using (var timeout = new CancellationTokenSource(ToolTimeout, timeProvider))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token))
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(linked.Token);
            var stderr = process.StandardError.ReadToEndAsync(linked.Token);
            try
            {
                await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
                var text = await stdout.ConfigureAwait(false);
                if (string.IsNullOrWhiteSpace(text))
                {
                    text = await stderr.ConfigureAwait(false);
                }

                return text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? $"{tool} (no version output)";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return $"{tool} did not answer within {ToolTimeout.TotalSeconds:0} s";
            }
        }
    }

    /// <summary>Keeps the warnings the binding logs while the doctor probes, to print them under the check.</summary>
    private sealed class ListLoggerFactory : ILoggerFactory
    {
        private readonly List<string> _warnings = [];
        private readonly Lock _gate = new();

        public IReadOnlyList<string> Warnings()
        {
            lock (_gate)
            {
                return [.. _warnings];
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Logger(ListLoggerFactory owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                // Only the binding's own warnings (provider fallbacks), not ORT's internal lines.
                if (logLevel == LogLevel.Warning && eventId.Id != 1)
                {
                    lock (owner._gate)
                    {
                        owner._warnings.Add(formatter(state, exception));
                    }
                }
            }
        }
    }
}
