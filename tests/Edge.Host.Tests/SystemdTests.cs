using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Edge.Camera;
using Edge.Host.Systemd;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Host.Tests;

/// <summary>sd_notify against a real unix datagram socket, the way systemd listens.</summary>
public sealed class SystemdTests
{
    /// <summary>Hardware double: a camera whose frames can be frozen (a wedged USB camera), built on the recorded source.</summary>
    private sealed class FreezableSource(int width, int height) : IFrameSource
    {
        private readonly RecordedFrameSource _recorded =
            new([new byte[width * height * 3]], width, height, TimeSpan.FromMilliseconds(20), 0, TimeProvider.System);

        public volatile bool Frozen;

        public int Width => width;

        public int Height => height;

        public CameraStatus Status => _recorded.Status;

        public async Task RunAsync(ChannelWriter<Frame> output, CancellationToken cancellationToken)
        {
            var inner = Channel.CreateUnbounded<Frame>();
            var run = _recorded.RunAsync(inner.Writer, cancellationToken);
            try
            {
                await foreach (var frame in inner.Reader.ReadAllAsync(cancellationToken))
                {
                    if (Frozen || !output.TryWrite(frame))
                    {
                        frame.Dispose();
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                await run;
                FrameChannel.Drain(inner.Reader);
                output.TryComplete();
            }
        }
    }

    private sealed class NotifyListener : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly Task _loop;

        public NotifyListener()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"edge-notify-{Guid.NewGuid():N}.sock");
            _socket.Bind(new UnixDomainSocketEndPoint(Path));
            _loop = Task.Run(async () =>
            {
                var buffer = new byte[4096];
                var clock = Stopwatch.StartNew();
                try
                {
                    while (true)
                    {
                        var n = await _socket.ReceiveAsync(buffer, SocketFlags.None);
                        Messages.Enqueue((clock.Elapsed, Encoding.UTF8.GetString(buffer, 0, n)));
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            });
        }

        public string Path { get; }

        public ConcurrentQueue<(TimeSpan At, string Text)> Messages { get; } = new();

        public int Count(string state) => Messages.Count(m => m.Text.Split('\n').Contains(state));

        public void Dispose()
        {
            _socket.Dispose();
            _loop.Wait(TimeSpan.FromSeconds(2));
            File.Delete(Path);
        }
    }

    [Fact]
    public void Notify_RealDatagramSocket_DeliversStateText()
    {
        using var listener = new NotifyListener();
        using var notifier = new SystemdNotifier(listener.Path);

        notifier.Notify("READY=1\nSTATUS=ok");

        SpinWait.SpinUntil(() => !listener.Messages.IsEmpty, TimeSpan.FromSeconds(5));
        Assert.Equal("READY=1\nSTATUS=ok", Assert.Single(listener.Messages).Text);
    }

    [Fact]
    public void Notify_AbstractSocketAddress_Delivers()
    {
        var name = $"edge-notify-test-{Guid.NewGuid():N}";
        using var server = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint("\0" + name));
        server.ReceiveTimeout = 5000;
        using var notifier = new SystemdNotifier("@" + name);

        notifier.Notify("WATCHDOG=1");

        var buffer = new byte[64];
        var n = server.Receive(buffer);
        Assert.Equal("WATCHDOG=1", Encoding.UTF8.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task Run_UnderSystemd_ReadyThenWatchdogOnlyWhileFramesFlowThenStopping()
    {
        using var listener = new NotifyListener();
        var camera = new FreezableSource(32, 24);
        var kiosk = await KioskHarness.StartAsync(
            KioskHarness.BaseArgs("/dev/video0", "--Camera:Width=32", "--Camera:Height=24", "--Systemd:WatchdogFrameTimeout=00:00:00.3", "--Pipeline:Explain=None"),
            more: services =>
            {
                services.AddSingleton(new SystemdEnvironment(listener.Path, TimeSpan.FromMilliseconds(200)));
                services.AddSingleton<IFrameSource>(camera);
            });
        await using (kiosk)
        {
            await Wait.UntilAsync(() => listener.Count("READY=1") == 1, TimeSpan.FromSeconds(10), "READY=1");
            await Wait.UntilAsync(() => listener.Count("WATCHDOG=1") >= 3, TimeSpan.FromSeconds(10), "watchdog pings while frames flow");

            camera.Frozen = true;
            await Task.Delay(700); // frame timeout 0.3 s + a ping interval of slack
            var whenFrozen = listener.Count("WATCHDOG=1");
            await Task.Delay(1000);
            Assert.Equal(whenFrozen, listener.Count("WATCHDOG=1"));

            camera.Frozen = false;
            await Wait.UntilAsync(() => listener.Count("WATCHDOG=1") > whenFrozen, TimeSpan.FromSeconds(5), "watchdog to resume with frames");
        }

        await Wait.UntilAsync(() => listener.Count("STOPPING=1") == 1, TimeSpan.FromSeconds(5), "STOPPING=1");
        Assert.Equal(1, listener.Count("READY=1"));
        Assert.StartsWith("READY=1", listener.Messages.First().Text, StringComparison.Ordinal);
    }

    [Fact]
    public void FromProcess_WatchdogPidOfAnotherProcess_IgnoresWatchdog()
    {
        // reads the environment of this test process: systemd variables are absent here
        var env = SystemdEnvironment.FromProcess();
        Assert.Equal(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"), env.NotifySocket);
    }
}
