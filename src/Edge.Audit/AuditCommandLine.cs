using Edge.Audit.Hosting;
using Edge.Audit.Security;
using Edge.Audit.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit;

/// <summary>
/// edge-audit [serve]                           run the service (API, review page, MQTT ingest, retention)
/// edge-audit migrate                           apply schema migrations and exit
/// edge-audit token create --owner NAME --role ROLE   print a new API token (shown once)
/// edge-audit token list | token revoke --id N
/// edge-audit acl --kiosks FILE --out DIR [--audit-user NAME] [--port N]   broker ACL + per-kiosk credentials
/// Configuration keys (Audit:…) come from appsettings.json, environment (Audit__Storage__Provider=…) or --Audit:Key=value.
/// </summary>
public static class AuditCommandLine
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        // No command, or options first, is "serve"; --help and -h are commands of their own (they used to start the server).
        var named = args.Length > 0 && (!args[0].StartsWith('-') || args[0] is "--help" or "-h");
        var command = named ? args[0] : "serve";
        var rest = named ? args[1..] : args;
        try
        {
            switch (command)
            {
                case "serve":
                    await using (var app = AuditWebApp.Build(rest))
                    {
                        await app.RunAsync(cancellationToken);
                    }

                    return 0;
                case "migrate":
                    return await WithStoreAsync(rest, async (store, _) =>
                    {
                        await stdout.WriteLineAsync($"schema version {await store.MigrateAsync(cancellationToken)}");
                        return 0;
                    });
                case "token":
                    return await TokenAsync(rest, stdout, stderr, cancellationToken);
                case "acl":
                    return Acl(rest, stdout, stderr);
                case "help" or "--help" or "-h":
                    await stdout.WriteLineAsync(Usage);
                    return 0;
                default:
                    await stderr.WriteLineAsync($"edge-audit: unknown command '{command}'\n{Usage}");
                    return 2;
            }
        }
        catch (OptionsValidationException ex)
        {
            await stderr.WriteLineAsync("edge-audit: invalid configuration:\n  " + string.Join("\n  ", ex.Failures));
            return 2;
        }
        catch (InvalidOperationException ex) when (ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
        {
            await stderr.WriteLineAsync("edge-audit: invalid configuration:\n  " + ex.Message);
            return 2;
        }
        catch (Exception ex) when (command == "serve" && ex is not OperationCanceledException)
        {
            // e.g. a store it cannot open: one line and exit 1 (systemd retries; the cause may be a disk not yet mounted)
            await stderr.WriteLineAsync($"edge-audit: cannot start: {ex.GetBaseException().Message}");
            return 1;
        }
    }

    public const string Usage = """
        usage: edge-audit [serve] [--Audit:Key=value ...]
               edge-audit migrate
               edge-audit token create --owner NAME --role kiosk|supervisor|analyst|metrics|admin
               edge-audit token list
               edge-audit token revoke --id N
               edge-audit acl --kiosks FILE --out DIR [--audit-user edge-audit] [--port 1883]
        """;

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string[] ConfigArgs(string[] args) => args.Where(a => a.StartsWith("--Audit:", StringComparison.Ordinal)).ToArray();

    private static async Task<int> WithStoreAsync(string[] args, Func<IAuditStore, TimeProvider, Task<int>> action)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = ConfigArgs(args), ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddEdgeAuditStorage(builder.Configuration);

        // Commands print their result on stdout (a token is captured with $(...)); every log line goes to stderr.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        using var host = builder.Build();
        _ = host.Services.GetRequiredService<IOptions<AuditOptions>>().Value; // validates
        var store = host.Services.GetRequiredService<IAuditStore>();
        try
        {
            return await action(store, host.Services.GetRequiredService<TimeProvider>());
        }
        finally
        {
            if (store is IAsyncDisposable d)
            {
                await d.DisposeAsync();
            }
        }
    }

    private static async Task<int> TokenAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var sub = args.Length > 0 ? args[0] : "";
        return await WithStoreAsync(args, async (store, time) =>
        {
            await store.MigrateAsync(cancellationToken);
            switch (sub)
            {
                case "create":
                    var owner = Option(args, "--owner");
                    var role = Option(args, "--role");
                    if (owner is null || !Roles.IsValid(role))
                    {
                        await stderr.WriteLineAsync("edge-audit token create: --owner NAME and --role " + string.Join('|', Roles.All) + " are required");
                        return 2;
                    }

                    var (_, token) = await ApiTokens.CreateAsync(store, owner, role!, time, cancellationToken);
                    await stdout.WriteLineAsync(token);
                    return 0;
                case "list":
                    foreach (var t in await store.ListTokensAsync(cancellationToken))
                    {
                        await stdout.WriteLineAsync($"{t.Id}\t{t.Owner}\t{t.Role}\t{DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedAtMs):O}\t{(t.RevokedAtMs is null ? "active" : "revoked")}");
                    }

                    return 0;
                case "revoke":
                    if (!long.TryParse(Option(args, "--id"), out var id))
                    {
                        await stderr.WriteLineAsync("edge-audit token revoke: --id N is required");
                        return 2;
                    }

                    var ok = await store.RevokeTokenAsync(id, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
                    await (ok ? stdout : stderr).WriteLineAsync(ok ? $"token {id} revoked" : $"no active token {id}");
                    return ok ? 0 : 1;
                default:
                    await stderr.WriteLineAsync(Usage);
                    return 2;
            }
        });
    }

    private static int Acl(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var file = Option(args, "--kiosks");
        var output = Option(args, "--out");
        if (file is null || output is null)
        {
            stderr.WriteLine("edge-audit acl: --kiosks FILE (lines site/kiosk) and --out DIR are required");
            return 2;
        }

        var port = int.TryParse(Option(args, "--port"), out var p) ? p : 1883;
        try
        {
            var kiosks = MosquittoAcl.ParseKiosks(File.ReadLines(file));
            MosquittoAcl.Write(output, kiosks, Option(args, "--audit-user") ?? "edge-audit", port);
            stdout.WriteLine($"wrote acl, passwd, credentials.csv and mosquitto.conf for {kiosks.Count} kiosks to {output}");
            return 0;
        }
        catch (FormatException ex)
        {
            stderr.WriteLine($"edge-audit acl: {file}: {ex.Message}");
            return 2;
        }
    }
}
