using System.Net.Http.Headers;
using Edge.Audit.Hosting;
using Edge.Audit.Ingest;
using Edge.Audit.Security;
using Edge.Audit.Storage;
using Edge.Sync.Contract;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Audit.Tests;

/// <summary>The real service on 127.0.0.1 (random port, real Kestrel, a SQLite file or PostgreSQL schema), MQTT off unless asked.</summary>
internal sealed class AuditServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private AuditServer(WebApplication app, Uri address, string directory, string connectionString)
    {
        _app = app;
        BaseAddress = address;
        _directory = directory;
        ConnectionString = connectionString;
    }

    public Uri BaseAddress { get; }

    /// <summary>The SQLite file this instance was started on (a second instance can open the same store).</summary>
    public string ConnectionString { get; }

    public IServiceProvider Services => _app.Services;

    public IngestPipeline Pipeline => Services.GetRequiredService<IngestPipeline>();

    public IAuditStore Store => Services.GetRequiredService<IAuditStore>();

    public static async Task<AuditServer> StartAsync(TimeProvider? time = null, params string[] extraArgs)
    {
        var directory = Directory.CreateTempSubdirectory("edge-audit-").FullName;
        var connectionString = $"Data Source={Path.Combine(directory, "audit.db")}";
        string[] args =
        [
            "--Audit:Http:Urls=http://127.0.0.1:0",
            $"--Audit:Storage:ConnectionString={connectionString}",
            "--Audit:Mqtt:Enabled=false",
            "--Audit:Ingest:FlushInterval=00:00:00.020",
            .. extraArgs,
        ];
        var app = AuditWebApp.Build(args, b =>
        {
            b.Logging.SetMinimumLevel(LogLevel.Warning);
            if (time is not null)
            {
                b.Services.AddSingleton(time);
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new AuditServer(app, new Uri(address), directory, connectionString);
    }

    public async Task<string> TokenAsync(string role, string owner = "tester") =>
        (await ApiTokens.CreateAsync(Store, owner, role, TimeProvider.System, CancellationToken.None)).Token;

    public HttpClient Client(string? token = null)
    {
        var c = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return c;
    }

    /// <summary>Feeds messages to the ingest pipeline as the MQTT service would, and waits until they are written.</summary>
    public async Task IngestAsync(params FaceEvent[] events)
    {
        foreach (var e in events)
        {
            var r = await Pipeline.SubmitAsync(TestEvents.Topic(e), e.ToByteArray(), CancellationToken.None);
            Assert.True(r.Accepted, r.Detail);
        }

        await Pipeline.WaitUntilDrainedAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp directory is harmless
        }
    }
}
