using System.Net;
using Edge.Host.Health;
using Edge.Host.Options;
using Edge.Host.Pipeline;
using Edge.Sync.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Commands;

/// <summary>
/// <c>edge run [--config FILE] [--Section:Key=value ...]</c>: the kiosk service. Configuration: appsettings.json
/// beside the binary, then FILE, then EDGE_* environment variables (EDGE_Camera__Source), then the command line.
/// </summary>
internal static class RunCommand
{
    /// <summary>Exit code for a configuration error (sysexits EX_CONFIG); edge.service does not restart on it.</summary>
    public const int ConfigurationError = 78;

    public const string Usage = """
        usage: edge run [--config FILE] [--Section:Key=value ...]

        Runs the kiosk service: camera → detect + score → flag rules → explain → outbox, with /healthz and
        /metrics on Http:Address:Http:Port (127.0.0.1:9464 by default). Sections: Kiosk, Camera, Pipeline,
        Flags, Http, Gpio, Systemd (see src/Edge.Host/README.md). Stops on SIGINT/SIGTERM, or by itself when a
        non-looping file source ends.
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args is ["--help"] or ["-h"])
        {
            await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        return await RunAsync(args, Console.Error, null, cancellationToken).ConfigureAwait(false);
    }

    /// <param name="stages">registers the analyzer, explainer and sink; null: the real stages (tests: doubles for unbuilt stages)</param>
    public static async Task<int> RunAsync(
        string[] args, TextWriter error, Action<IServiceCollection, IConfiguration>? stages, CancellationToken cancellationToken)
    {
        WebApplication app;
        try
        {
            app = Build(args, stages);
        }
        catch (Exception e) when (IsConfigurationError(e, out var message))
        {
            await error.WriteLineAsync($"edge run: invalid configuration: {message}").ConfigureAwait(false);
            return ConfigurationError;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                // every ValidateOnStart option of every stage, before the host starts (and logs its own trace)
                app.Services.GetService<IStartupValidator>()?.Validate();
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsConfigurationError(e, out var message))
            {
                await error.WriteLineAsync($"edge run: invalid configuration: {message}").ConfigureAwait(false);
                return ConfigurationError;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await error.WriteLineAsync($"edge run: cannot start: {e.GetBaseException().Message}").ConfigureAwait(false);
                return 1;
            }

            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
    }

    /// <summary>Builds the service without starting it (tests start it and read <see cref="BoundAddress"/>).</summary>
    public static WebApplication Build(string[] args, Action<IServiceCollection, IConfiguration>? stages = null)
    {
        var rest = new List<string>();
        string? configFile = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Length)
            {
                configFile = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                configFile = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [.. rest],
            ApplicationName = "edge",
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (configFile is not null)
        {
            var path = Path.GetFullPath(configFile);
            try
            {
                builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                // A missing or malformed file is a configuration error (exit 78, no restart), not a crash.
                var reason = e is FileNotFoundException ? "not found" : e.GetBaseException().Message;
                throw new InvalidOperationException($"edge run cannot compose its configuration: --config {path}: {reason}", e);
            }
        }

        builder.Configuration.AddEnvironmentVariables("EDGE_");
        builder.Configuration.AddCommandLine([.. rest]);

        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var http = kestrel.ApplicationServices.GetRequiredService<IOptions<HttpOptions>>().Value;
            kestrel.Listen(IPAddress.Parse(http.Address), http.Port);
        });

        builder.Services.AddEdgeKiosk(builder.Configuration);
        if (stages is null)
        {
            builder.Services.AddEdgeStages(builder.Configuration);
        }
        else
        {
            stages(builder.Services, builder.Configuration);
        }

        var missing = new List<string>();
        var provided = builder.Services.Select(d => d.ServiceType).ToHashSet();
        if (!provided.Contains(typeof(IFaceAnalyzer)))
        {
            missing.Add("no face analyzer in this build (Edge.Explain FaceAnalyzer)");
        }

        if (!provided.Contains(typeof(IFaceEventSink)))
        {
            missing.Add("no event sink in this build (Edge.Sync outbox)");
        }

        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"edge run cannot compose the kiosk: {string.Join("; ", missing)}");
        }

        var app = builder.Build();
        // the exporter listens from the start, so /metrics counts what happened before its first scrape
        _ = app.Services.GetRequiredService<PrometheusExporter>();
        app.MapHealthChecks("/healthz", new HealthCheckOptions { ResponseWriter = HealthJson.WriteAsync });
        app.MapGet("/metrics", (PrometheusExporter exporter) => TypedResults.Text(exporter.Scrape(), PrometheusExporter.ContentType));
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Edge.Host");
            Log.Listening(logger, BoundAddress(app));
        });
        return app;
    }

    /// <summary>The address Kestrel bound (with the real port when Http:Port is 0).</summary>
    public static string BoundAddress(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "";

    private static bool IsConfigurationError(Exception e, out string message)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case OptionsValidationException v:
                    message = string.Join("; ", v.Failures);
                    return true;
                case InvalidOperationException when x.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal):
                    message = x.Message;
                    return true;
                case InvalidOperationException when x.Message.StartsWith("edge run cannot compose", StringComparison.Ordinal):
                    message = x.Message;
                    return true;
                case AggregateException a when a.InnerExceptions.All(i => i is OptionsValidationException):
                    message = string.Join("; ", a.InnerExceptions.SelectMany(i => ((OptionsValidationException)i).Failures));
                    return true;
                case AggregateException a when a.InnerExceptions.Count == 1:
                    continue;
            }
        }

        message = "";
        return false;
    }
}
