using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Edge.Audit.Drift;

/// <summary>The latest drift status of one kiosk, as stored.</summary>
public sealed record KioskDriftRow(
    string SiteId,
    string KioskId,
    long TimeUnixMs,
    long ReceivedUnixMs,
    string Level,
    long WindowFaces,
    string WorstSignal,
    double WorstPsi,
    long OcclusionChecks,
    long OcclusionDisagreements,
    double OcclusionShare,
    string ModelSha256,
    string SignalsJson);

/// <summary>
/// One table, <c>kiosk_drift</c> (one row per kiosk, the newest status wins), in the audit store's own database
/// (SQLite or PostgreSQL, the same connection string). Created on first use; the SQL is the common subset of both.
/// </summary>
public sealed class KioskDriftStore(IOptions<AuditOptions> options)
{
    private const string Create = """
        CREATE TABLE IF NOT EXISTS kiosk_drift (
          site_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, time_unix_ms BIGINT NOT NULL, received_unix_ms BIGINT NOT NULL,
          level TEXT NOT NULL, window_faces BIGINT NOT NULL, worst_signal TEXT NOT NULL, worst_psi DOUBLE PRECISION NOT NULL,
          occlusion_checks BIGINT NOT NULL, occlusion_disagreements BIGINT NOT NULL, occlusion_share DOUBLE PRECISION NOT NULL,
          model_sha256 TEXT NOT NULL, signals_json TEXT NOT NULL, PRIMARY KEY (site_id, kiosk_id))
        """;

    private const string Upsert = """
        INSERT INTO kiosk_drift (site_id, kiosk_id, time_unix_ms, received_unix_ms, level, window_faces, worst_signal, worst_psi,
                                 occlusion_checks, occlusion_disagreements, occlusion_share, model_sha256, signals_json)
        VALUES (@SiteId, @KioskId, @TimeUnixMs, @ReceivedUnixMs, @Level, @WindowFaces, @WorstSignal, @WorstPsi,
                @OcclusionChecks, @OcclusionDisagreements, @OcclusionShare, @ModelSha256, @SignalsJson)
        ON CONFLICT (site_id, kiosk_id) DO UPDATE SET
          time_unix_ms = excluded.time_unix_ms, received_unix_ms = excluded.received_unix_ms, level = excluded.level,
          window_faces = excluded.window_faces, worst_signal = excluded.worst_signal, worst_psi = excluded.worst_psi,
          occlusion_checks = excluded.occlusion_checks, occlusion_disagreements = excluded.occlusion_disagreements,
          occlusion_share = excluded.occlusion_share, model_sha256 = excluded.model_sha256, signals_json = excluded.signals_json
        WHERE excluded.time_unix_ms >= kiosk_drift.time_unix_ms
        """;

    private const string Select = """
        SELECT site_id AS SiteId, kiosk_id AS KioskId, time_unix_ms AS TimeUnixMs, received_unix_ms AS ReceivedUnixMs, level AS Level,
               window_faces AS WindowFaces, worst_signal AS WorstSignal, worst_psi AS WorstPsi, occlusion_checks AS OcclusionChecks,
               occlusion_disagreements AS OcclusionDisagreements, occlusion_share AS OcclusionShare, model_sha256 AS ModelSha256,
               signals_json AS SignalsJson
        FROM kiosk_drift ORDER BY site_id, kiosk_id
        """;

    private readonly SemaphoreSlim _init = new(1, 1);
    private bool _created;

    public async Task UpsertAsync(KioskDriftRow row, CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await c.ExecuteAsync(new CommandDefinition(Upsert, row, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<KioskDriftRow>> ListAsync(CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        return [.. await c.QueryAsync<KioskDriftRow>(new CommandDefinition(Select, cancellationToken: cancellationToken))];
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var s = options.Value.Storage;
        DbConnection c = s.Provider == StorageProvider.PostgreSql ? new NpgsqlConnection(s.ConnectionString) : new SqliteConnection(s.ConnectionString);
        try
        {
            await c.OpenAsync(cancellationToken);
            if (!_created)
            {
                await _init.WaitAsync(cancellationToken);
                try
                {
                    if (!_created)
                    {
                        await c.ExecuteAsync(new CommandDefinition(Create, cancellationToken: cancellationToken));
                        _created = true;
                    }
                }
                finally
                {
                    _init.Release();
                }
            }

            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }
}
