using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

/// <summary>TLS against a real Mosquitto TLS listener with certificates made by openssl for this test.</summary>
public sealed class TlsTests(ITestOutputHelper output)
{
    private readonly TestLoggerProvider _logs = new(output);

    [Fact]
    public async Task ConnectAsync_TlsWithTrustedCa_PublishesOverTls()
    {
        var pki = await MakePkiAsync("ca");
        var tlsPort = FreePort();
        await using var broker = await MosquittoBroker.StartAsync($"""
            listener {tlsPort} 127.0.0.1
            cafile {pki}/ca.pem
            certfile {pki}/server.pem
            keyfile {pki}/server.key
            """);
        var options = MosquittoTransportTests.OptionsFor(broker, "tls-ok");
        options.Port = tlsPort;
        options.Tls = new MqttTlsOptions { Enabled = true, CaFile = $"{pki}/ca.pem" };
        await using var transport = new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));

        await transport.ConnectAsync(cts.Token);
        var result = await transport.PublishAsync("edge/v1/s/k/events", "x"u8.ToArray(), MqttQos.AtLeastOnce, false, cts.Token);

        Assert.True(result.IsSuccess);
    }

    [Fact]
    public async Task SubscribeAsync_TlsWithAckAfterHandled_EveryMessageArrivesAndIsAcknowledged()
    {
        // The loop that holds PUBACKs polls the socket itself: nothing may stay unread in OpenSSL's buffers.
        var pki = await MakePkiAsync("ca");
        var tlsPort = FreePort();
        await using var broker = await MosquittoBroker.StartAsync($"""
            listener {tlsPort} 127.0.0.1
            cafile {pki}/ca.pem
            certfile {pki}/server.pem
            keyfile {pki}/server.key
            """);
        var options = MosquittoTransportTests.OptionsFor(broker, "tls-holder");
        options.Port = tlsPort;
        options.Tls = new MqttTlsOptions { Enabled = true, CaFile = $"{pki}/ca.pem" };
        options.AckAfterHandled = true;
        await using var consumer = new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        await using var publisher = new MosquittoTransport(MosquittoTransportTests.OptionsFor(broker, "tls-pub"), _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = 0;
        var subscribing = consumer.SubscribeAsync("q/#", MqttQos.AtLeastOnce, (m, _) =>
        {
            consumer.Acknowledge(m.Sequence);
            Interlocked.Increment(ref received);
            return ValueTask.CompletedTask;
        }, MqttAcknowledgement.ByConsumer, cts.Token);
        await Task.WhenAll(consumer.ConnectAsync(cts.Token), publisher.ConnectAsync(cts.Token));
        await subscribing;

        await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => publisher.PublishAsync("q/1", new byte[100 + (i % 50)], MqttQos.AtLeastOnce, false, cts.Token)));

        await OutboxPublisherServiceTests.WaitUntilAsync(() => Volatile.Read(ref received) == 2000 && consumer.UnacknowledgedCount == 0, cts.Token);
    }

    [Fact]
    public async Task ConnectAsync_TlsWithUntrustedCa_TlsErrorAndNoConnection()
    {
        var pki = await MakePkiAsync("ca");
        var other = await MakePkiAsync("other-ca");
        var tlsPort = FreePort();
        await using var broker = await MosquittoBroker.StartAsync($"""
            listener {tlsPort} 127.0.0.1
            cafile {pki}/ca.pem
            certfile {pki}/server.pem
            keyfile {pki}/server.key
            """);
        var options = MosquittoTransportTests.OptionsFor(broker, "tls-bad");
        options.Port = tlsPort;
        options.Tls = new MqttTlsOptions { Enabled = true, CaFile = $"{other}/ca.pem" };
        await using var transport = new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transport.ConnectAsync(cts.Token));

        Assert.Equal(MqttErrorKind.Tls, transport.LastError?.Kind);
        Assert.NotEqual(MqttConnectionState.Connected, transport.State);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> MakePkiAsync(string caName)
    {
        var dir = Directory.CreateTempSubdirectory("edge-pki-").FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
        await RunAsync(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", $"/CN={caName}");
        await RunAsync(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
        await RunAsync(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf");
        return dir;
    }

    private static async Task RunAsync(string dir, params string[] args)
    {
        var info = new ProcessStartInfo("openssl") { WorkingDirectory = dir, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)}: {err}");
    }
}
