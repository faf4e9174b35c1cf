using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using Edge.Audit.Ingest;
using Edge.Audit.Storage;
using Edge.Sync.Contract;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Edge.Audit.Tests;

/// <summary>Builds wire messages the way a kiosk would.</summary>
internal static class TestEvents
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    /// <param name="heatmapCodec">With <paramref name="heatmap"/>: 1 = a synthetic v1 map, 2 = a real v2 map as kiosks send it.</param>
    public static FaceEvent Event(string site = "site-a", string kiosk = "kiosk-1", DateTimeOffset? at = null, float happy = 0.7f,
        bool flagged = false, string? id = null, bool heatmap = false, bool crop = false, int heatmapCodec = 1)
    {
        var rest = (1f - happy) / 10f; // the remainder: half to neutral, a tenth to each other class
        var e = new FaceEvent
        {
            SchemaVersion = 1,
            EventId = id ?? Guid.CreateVersion7().ToString("D"),
            SiteId = site,
            KioskId = kiosk,
            CaptureTimeUnixMs = (at ?? T0).ToUnixTimeMilliseconds(),
            ModelId = "emotion-int8",
            ModelSha256 = new string('a', 64),
            Scores = new Expressions { Angry = rest, Disgust = rest, Fear = rest, Happy = happy, Sad = rest, Surprise = rest, Neutral = rest * 5 },
            Flagged = flagged,
            FlagReason = flagged ? "low happy" : "",
            FaceBox = new Box { X1 = 10, Y1 = 20, X2 = 110, Y2 = 140 },
            DetectorScore = 0.93f,
            FrameWidth = 640,
            FrameHeight = 480,
        };
        if (heatmap)
        {
            e.Heatmaps.Add(heatmapCodec == 2 ? HeatmapV2("happy") : Heatmap("happy", 64, 64));
        }

        if (crop)
        {
            e.FaceCropPng = ByteString.CopyFrom(Png.Encode(64, 64, (x, y) => ((byte)(60 + (x * 2)), (byte)(60 + (x * 2)), (byte)(60 + (y * 2)))));
        }

        return e;
    }

    /// <summary>A radial blob: positive in the centre, negative in a corner.</summary>
    public static Heatmap Heatmap(string cls, int w, int h)
    {
        var values = new sbyte[w * h];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var d = Math.Sqrt(((x - (w / 2.0)) * (x - (w / 2.0))) + ((y - (h / 2.0)) * (y - (h / 2.0))));
                values[(y * w) + x] = (sbyte)Math.Clamp(127 - (d * 6), x < 8 && y < 8 ? -100 : 0, 127);
            }
        }

        return new Heatmap { TargetClass = cls, CodecVersion = 1, Width = (uint)w, Height = (uint)h, Scale = 0.01f, Data = ByteString.CopyFrom(HeatmapDecoder.Encode(values)) };
    }

    /// <summary>A real map as a kiosk sends it: codec v2, the int8 model's reduced happy map of the astronaut (a shared vector).</summary>
    public static Heatmap HeatmapV2(string cls)
    {
        var v = Edge.Testing.HeatmapCodecVectors.At(1);
        return new Heatmap { TargetClass = cls, CodecVersion = 2, Width = (uint)v.Width, Height = (uint)v.Height, Scale = v.Scale, Data = ByteString.CopyFrom(v.Data) };
    }

    public static string Topic(FaceEvent e) => $"edge/v1/{e.SiteId}/{e.KioskId}/events";

    /// <summary>A kiosk's drift report: <paramref name="happyPsi"/> on happy, a quiet detector signal.</summary>
    public static DriftStatus Drift(string level, long time, double happyPsi, uint checks = 0, uint disagreements = 0, string site = "site-a", string kiosk = "kiosk-1")
    {
        var s = new DriftStatus
        {
            SchemaVersion = 1, SiteId = site, KioskId = kiosk, TimeUnixMs = time, Level = level, WindowFaces = 500,
            OcclusionChecks = checks, OcclusionDisagreements = disagreements, OcclusionDisagreementShare = checks == 0 ? -1 : (double)disagreements / checks,
            ModelSha256 = "abc",
        };
        s.Signals.Add(new SignalDrift { Name = "happy", Psi = happyPsi, Kl = happyPsi / 2, Level = level });
        s.Signals.Add(new SignalDrift { Name = "detector", Psi = 0.01, Kl = 0.005, Level = "ok" });
        return s;
    }

    /// <summary>The retained MQTT message a kiosk publishes its drift report as.</summary>
    public static Edge.Sync.Mqtt.MqttMessage DriftMessage(DriftStatus s, string? topic = null) =>
        new(topic ?? $"edge/v1/{s.SiteId}/{s.KioskId}/drift", s.ToByteArray(), Edge.Sync.Mqtt.MqttQos.AtLeastOnce, true);

    public static IncomingEvent Incoming(FaceEvent e, long receivedAtMs = 0)
    {
        var r = new IngestDecoder(1 << 20).Decode(Topic(e), e.ToByteArray(), receivedAtMs == 0 ? e.CaptureTimeUnixMs + 50 : receivedAtMs);
        Assert.True(r.Accepted, r.Detail);
        return r.Event!;
    }
}

/// <summary>Minimal PNG encode/decode (8-bit RGB/RGBA, non-interlaced) for test images and screenshot checks.</summary>
internal static class Png
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }

        return c;
    }).ToArray();

    public static byte[] Encode(int w, int h, Func<int, int, (byte R, byte G, byte B)> pixel)
    {
        var raw = new MemoryStream();
        for (var y = 0; y < h; y++)
        {
            raw.WriteByte(0);
            for (var x = 0; x < w; x++)
            {
                var (r, g, b) = pixel(x, y);
                raw.WriteByte(r);
                raw.WriteByte(g);
                raw.WriteByte(b);
            }
        }

        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, true))
        {
            zs.Write(raw.ToArray());
        }

        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8;
        ihdr[9] = 2;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var td = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(td);
        var c = 0xFFFFFFFFu;
        foreach (var b in td)
        {
            c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        }

        BinaryPrimitives.WriteUInt32BigEndian(len, c ^ 0xFFFFFFFFu);
        s.Write(len);
    }

    /// <summary>Decodes to RGBA bytes.</summary>
    public static (int Width, int Height, byte[] Rgba) Decode(byte[] png)
    {
        var pos = 8;
        int w = 0, h = 0, colorType = 0;
        var idat = new MemoryStream();
        while (pos < png.Length)
        {
            var len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            var type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                w = BinaryPrimitives.ReadInt32BigEndian(data);
                h = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);
                colorType = data[9];
                Assert.Equal(0, data[12]);
            }
            else if (type == "IDAT")
            {
                idat.Write(data);
            }

            pos += 12 + len;
        }

        var bpp = colorType switch { 2 => 3, 6 => 4, _ => throw new NotSupportedException($"PNG colour type {colorType}") };
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = w * bpp;
        var cur = new byte[stride];
        var prev = new byte[stride];
        var rgba = new byte[w * h * 4];
        for (var y = 0; y < h; y++)
        {
            var filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, (y * (stride + 1)) + 1, cur, 0, stride);
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                cur[i] = (byte)(cur[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new NotSupportedException("PNG filter"),
                });
            }

            for (var x = 0; x < w; x++)
            {
                rgba[((y * w) + x) * 4] = cur[x * bpp];
                rgba[(((y * w) + x) * 4) + 1] = cur[(x * bpp) + 1];
                rgba[(((y * w) + x) * 4) + 2] = cur[(x * bpp) + 2];
                rgba[(((y * w) + x) * 4) + 3] = bpp == 4 ? cur[(x * bpp) + 3] : (byte)255;
            }

            (prev, cur) = (cur, prev);
        }

        return (w, h, rgba);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}

/// <summary>The local PostgreSQL 15 cluster: started by the tests themselves, one schema per store.</summary>
internal static class PostgresServer
{
    public const string Role = "edge_audit_test";
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static bool _ready;

    public static bool IsInstalled => File.Exists("/usr/bin/pg_ctlcluster") && Directory.Exists("/usr/lib/postgresql/15/bin");

    public static string NotInstalledReason => "PostgreSQL 15 is not installed (apt-get install postgresql-15); the PostgreSQL half of the store suite is skipped";

    public static string BaseConnectionString => $"Host=127.0.0.1;Port=5432;Username={Role};Password={Role};Database={Role};Pooling=true;Maximum Pool Size=20";

    public static async Task EnsureStartedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_ready)
            {
                return;
            }

            await RunAsync("pg_ctlcluster", "15", "main", "start"); // exit 2 = already running: fine
            for (var i = 0; i < 50 && !await CanConnectAsAdminAsync(); i++)
            {
                await Task.Delay(200);
            }

            await Psql($"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{Role}') THEN CREATE ROLE {Role} LOGIN PASSWORD '{Role}'; END IF; END $$;");
            if ((await Psql($"SELECT 1 FROM pg_database WHERE datname = '{Role}'")).Trim() != "1")
            {
                await Psql($"CREATE DATABASE {Role} OWNER {Role}");
            }

            _ready = true;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>A fresh empty schema; the returned connection string puts it first on the search path.</summary>
    public static async Task<string> NewSchemaAsync()
    {
        await EnsureStartedAsync();
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using var conn = new NpgsqlConnection(BaseConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}", conn);
        await cmd.ExecuteNonQueryAsync();
        return BaseConnectionString + $";Search Path={schema}";
    }

    /// <summary>Drops the schema a <see cref="NewSchemaAsync"/> connection string names (tests leave nothing behind).</summary>
    public static async Task DropSchemaAsync(string connectionString)
    {
        var schema = new NpgsqlConnectionStringBuilder(connectionString).SearchPath!;
        NpgsqlConnection.ClearAllPools();
        await using var conn = new NpgsqlConnection(BaseConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<bool> CanConnectAsAdminAsync() => (await RunAsync("runuser", "-u", "postgres", "--", "psql", "-tAc", "SELECT 1")).ExitCode == 0;

    private static async Task<string> Psql(string sql)
    {
        var (code, output) = await RunAsync("runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-tAc", sql);
        Assert.True(code == 0, $"psql failed: {output}");
        return output;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }
}

/// <summary>A store test: run for each backend subclass; the PostgreSQL ones are skipped (with the reason) only where PostgreSQL is not installed.</summary>
[XunitTestCaseDiscoverer("Edge.Audit.Tests.StoreFactDiscoverer", "Edge.Audit.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class StoreFactAttribute : FactAttribute;

public sealed class StoreFactDiscoverer(IMessageSink sink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var display = discoveryOptions.MethodDisplayOrDefault();
        var options = discoveryOptions.MethodDisplayOptionsOrDefault();
        if (testMethod.TestClass.Class.Name.Contains("Postgres", StringComparison.Ordinal) && !PostgresServer.IsInstalled)
        {
            yield return new XunitSkippedDataRowTestCase(sink, display, options, testMethod, PostgresServer.NotInstalledReason);
            yield break;
        }

        yield return new XunitTestCase(sink, display, options, testMethod);
    }
}

internal static class Stores
{
    public static async Task<(IAuditStore Store, Func<Task> Cleanup)> CreateAsync(StorageProvider provider, TimeProvider time)
    {
        if (provider == StorageProvider.PostgreSql)
        {
            var cs = await PostgresServer.NewSchemaAsync();
            var pg = new PostgresAuditStore(cs, time, NullLogger<PostgresAuditStore>.Instance);
            await pg.MigrateAsync(CancellationToken.None);
            return (pg, async () =>
            {
                await pg.DisposeAsync();
                await PostgresServer.DropSchemaAsync(cs);
            });
        }

        var dir = Directory.CreateTempSubdirectory("edge-audit-").FullName;
        var store = new SqliteAuditStore($"Data Source={Path.Combine(dir, "audit.db")}", time, NullLogger<SqliteAuditStore>.Instance);
        await store.MigrateAsync(CancellationToken.None);
        return (store, () =>
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
            return Task.CompletedTask;
        });
    }
}
