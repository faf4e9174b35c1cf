using Edge.Audit.Api;
using Edge.Audit.Drift;
using Edge.Audit.Ingest;
using Edge.Audit.Security;
using Edge.Audit.Storage;
using Edge.Sync.Metrics;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Hosting;

public static class AuditServiceCollectionExtensions
{
    /// <summary>Options (validated at start), the store chosen by Audit:Storage:Provider, and migrations at start.</summary>
    public static IServiceCollection AddEdgeAuditStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuditOptions>().Bind(configuration.GetSection(AuditOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuditOptions>, AuditOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IAuditStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<AuditOptions>>().Value.Storage;
            var time = sp.GetRequiredService<TimeProvider>();
            return o.Provider == StorageProvider.PostgreSql
                ? new PostgresAuditStore(o.ConnectionString, time, sp.GetRequiredService<ILogger<PostgresAuditStore>>())
                : new SqliteAuditStore(o.ConnectionString, time, sp.GetRequiredService<ILogger<SqliteAuditStore>>());
        });
        services.AddHostedService<StoreInitializer>();
        return services;
    }

    /// <summary>Everything the service runs: storage, ingest pipeline and writer, retention, MQTT subscription, API auth, /metrics.</summary>
    public static IServiceCollection AddEdgeAudit(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddEdgeAuditStorage(configuration);
        services.AddSingleton<IngestStats>();
        services.AddSingleton<IngestPipeline>();
        services.AddHostedService<BatchWriter>();
        services.AddSingleton<RetentionService>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionService>());
        services.AddEdgeAuditMqtt(configuration);
        services.AddEdgeAuditDrift();
        services.AddEdgeAuditMetrics();

        services.AddSingleton<ApiMetrics>();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AuditJsonContext.Default));
        services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.ReadEvents, p => p.RequireRole(Roles.Supervisor, Roles.Analyst, Roles.Admin))
            .AddPolicy(Policies.Review, p => p.RequireRole(Roles.Supervisor, Roles.Admin))
            .AddPolicy(Policies.Analytics, p => p.RequireRole(Roles.Analyst, Roles.Admin))
            .AddPolicy(Policies.Metrics, p => p.RequireRole(Roles.Metrics, Roles.Admin))
            .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.Admin));
        return services;
    }
}

/// <summary>Builds the audit web application; Program and the tests share it.</summary>
public static class AuditWebApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        var http = new HttpOptions();
        builder.Configuration.GetSection(AuditOptions.Section).GetSection("Http").Bind(http);
        builder.WebHost.UseUrls(http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = http.MaxRequestBodyBytes;
            k.AddServerHeader = false;
        });
        builder.Services.AddEdgeAudit(builder.Configuration);

        var app = builder.Build();
        // the exporter listens before anything records, so /metrics counts what happened before its first scrape
        _ = app.Services.GetRequiredService<PrometheusExporter>();
        ApiMetrics.UseApiMetrics(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting(); // after the exception handler, so routing failures get problem details too
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapAuditApi();
        app.MapAuditDrift();
        app.MapAuditMetrics();
        app.MapReviewPage();
        return app;
    }
}
