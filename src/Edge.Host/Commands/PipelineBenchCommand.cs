using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Edge.Camera;
using Edge.Host.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Commands;

/// <summary>
/// <c>edge bench pipeline</c>: decodes a video with the real camera stage (measured on its own), then drives the
/// real kiosk pipeline (analyzer, flag rules, explain policy, events, outbox) over those frames on one thread and
/// prints frames/s and p50/p99 per stage, read from the same histogram /metrics serves.
/// </summary>
internal static class PipelineBenchCommand
{
    internal const string Usage = """
        usage: edge bench pipeline --source VIDEO [--frames N] [--warmup N] [--distinct N] [--width W] [--height H]
                                   [--detector back|front] [--precision fp32|int8] [--explain none|all|flagged|sampled]
                                   [--sink outbox|none] [--Section:Key=value ...]
          Decodes DISTINCT frames (default 60) of VIDEO at W×H (default 640×480) with ffmpeg, then runs N frames
          (default 600, after WARMUP=30) through the pipeline and prints throughput and p50/p99 per stage.
          Run under `taskset -c 0` to hold it to one core.
        """;

    private const string StageInstrument = "edge.pipeline.stage.duration";

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Kiosk:SiteId"] = "bench",
            ["Kiosk:KioskId"] = "bench",
            ["Camera:Width"] = "640",
            ["Camera:Height"] = "480",
            ["Camera:Fps"] = "30",
            ["Camera:Loop"] = "true",
            ["Camera:Realtime"] = "false",
            ["Camera:ChannelCapacity"] = "8",
            ["Pipeline:Explain"] = "None",
            ["Pipeline:MaxFrameAge"] = "00:01:00",
            ["Faces:IntraOpThreads"] = "1",
        };
        int frames = 600, warmup = 30, distinct = 60;
        var sinkKind = "outbox";
        var extra = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--source": settings["Camera:Source"] = Next(); break;
                case "--frames": frames = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--distinct": distinct = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--width": settings["Camera:Width"] = Next(); break;
                case "--height": settings["Camera:Height"] = Next(); break;
                case "--detector": settings["Faces:Detector"] = Next(); break;
                case "--precision": settings["Faces:Precision"] = Next(); break;
                case "--explain": settings["Pipeline:Explain"] = Next(); break;
                case "--sink": sinkKind = Next(); break;
                case "-h" or "--help":
                    await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
                    return 0;
                default:
                    if (!args[i].StartsWith("--", StringComparison.Ordinal) || !args[i].Contains('=', StringComparison.Ordinal))
                    {
                        await Console.Error.WriteLineAsync($"edge bench pipeline: unexpected argument '{args[i]}'\n{Usage}").ConfigureAwait(false);
                        return 2;
                    }

                    extra.Add(args[i]);
                    break;
            }
        }

        if (!settings.ContainsKey("Camera:Source") || frames < 1 || warmup < 0 || distinct < 1 || sinkKind is not ("outbox" or "none"))
        {
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        var source = settings["Camera:Source"]!;
        if (!source.Contains("://", StringComparison.Ordinal) && !File.Exists(source) && !Directory.Exists(source))
        {
            // The kiosk keeps retrying a missing source (it may appear); a benchmark should not wait for one.
            await Console.Error.WriteLineAsync($"edge bench pipeline: no such video, folder or device: {source}").ConfigureAwait(false);
            return 2;
        }

        var outbox = Path.Combine(Path.GetTempPath(), $"edge-bench-outbox-{Environment.ProcessId}.db");
        settings["Sync:Outbox:Path"] = outbox;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).AddCommandLine([.. extra]).Build();
        var services = new ServiceCollection();
        services.AddLogging(l => l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        services.AddEdgeKiosk(configuration);
        services.AddEdgeStages(configuration);
        var provider = services.BuildServiceProvider();
        try
        {
            return await RunAsync(provider, frames, warmup, distinct, sinkKind == "outbox", cancellationToken).ConfigureAwait(false);
        }
        catch (OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync($"edge bench pipeline: invalid configuration: {string.Join("; ", e.Failures)}").ConfigureAwait(false);
            return RunCommand.ConfigurationError;
        }
        finally
        {
            // the outbox closes (and checkpoints) with the provider, before its files go
            await provider.DisposeAsync().ConfigureAwait(false);
            foreach (var f in new[] { outbox, outbox + "-wal", outbox + "-shm" })
            {
                File.Delete(f);
            }
        }
    }

    private static async Task<int> RunAsync(IServiceProvider provider, int frames, int warmup, int distinct, bool useSink, CancellationToken cancellationToken)
    {
        var camera = provider.GetRequiredService<IOptions<CameraOptions>>().Value;
        var faces = provider.GetRequiredService<IOptions<Edge.Explain.Faces.FaceAnalyzerOptions>>().Value;
        var pipelineOptions = provider.GetRequiredService<IOptions<Edge.Host.Options.PipelineOptions>>().Value;

        // 1. decode with the real camera stage, measured on its own
        var decoded = await DecodeAsync(provider, distinct, cancellationToken).ConfigureAwait(false);
        if (decoded.Frames.Count == 0)
        {
            await Console.Error.WriteLineAsync($"edge bench pipeline: no frames from '{camera.Source}': {decoded.Error}").ConfigureAwait(false);
            return 1;
        }

        // 2. the pipeline on one thread; the outbox drain runs beside it as it does in the service
        var pipeline = provider.GetRequiredService<FacePipeline>();
        var channels = provider.GetRequiredService<PipelineChannels>();
        var metrics = provider.GetRequiredService<PipelineMetrics>();
        var sink = useSink ? provider.GetRequiredService<IFaceEventSink>() : null;
        var recorded = new RecordedFrameSource(decoded.Frames, camera.Width, camera.Height, TimeSpan.Zero, 0, TimeProvider.System);
        var samples = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        long faceCount = 0;
        var collecting = false;
        using var listener = new MeterListener();
        var factory = provider.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name == PipelineMetrics.MeterName
                && instrument.Name is StageInstrument or "edge.pipeline.faces")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            if (!Volatile.Read(ref collecting))
            {
                return;
            }

            var stage = tags.Length > 0 ? tags[0].Value as string ?? "?" : "?";
            lock (samples)
            {
                if (!samples.TryGetValue(stage, out var list))
                {
                    samples[stage] = list = new List<double>(frames);
                }

                list.Add(value);
            }
        });
        listener.SetMeasurementEventCallback<long>((_, value, _, _) =>
        {
            if (Volatile.Read(ref collecting))
            {
                Interlocked.Add(ref faceCount, value);
            }
        });
        listener.Start();

        var drain = Task.Run(async () =>
        {
            var reader = channels.Events.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var faceEvent))
                {
                    if (sink is null)
                    {
                        continue;
                    }

                    var t = Stopwatch.GetTimestamp();
                    await sink.EnqueueAsync(faceEvent, cancellationToken).ConfigureAwait(false);
                    metrics.Stage("sink", Stopwatch.GetElapsedTime(t));
                }
            }
        }, cancellationToken);

        for (var i = 0; i < warmup; i++)
        {
            using var frame = recorded.Next();
            await pipeline.ProcessAsync(frame, cancellationToken).ConfigureAwait(false);
        }

        // let the outbox take the warm-up's events first, so the sink samples belong to measured frames
        while (channels.Events.Reader.Count > 0)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        var perFrame = new double[frames];
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        Volatile.Write(ref collecting, true);
        var wall = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < frames; i++)
        {
            var t = Stopwatch.GetTimestamp();
            using var frame = recorded.Next();
            await pipeline.ProcessAsync(frame, cancellationToken).ConfigureAwait(false);
            perFrame[i] = Stopwatch.GetElapsedTime(t).TotalSeconds;
        }

        var elapsed = wall.Elapsed;
        channels.Events.Writer.TryComplete();
        await drain.ConfigureAwait(false);
        var drained = wall.Elapsed;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Volatile.Write(ref collecting, false);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        var analyzer = provider.GetRequiredService<IFaceAnalyzer>();
        var o = Console.Out;
        var inv = CultureInfo.InvariantCulture;
        await o.WriteLineAsync(string.Format(inv,
            "edge bench pipeline: {0} at {1}x{2}, detector {3}, scorer {4} ({5}), explain {6}, sink {7}, ORT threads {8}",
            camera.Source, camera.Width, camera.Height, faces.Detector, faces.Precision, analyzer.ModelId, pipelineOptions.Explain,
            useSink ? "SQLite outbox" : "none", faces.IntraOpThreads)).ConfigureAwait(false);
        await o.WriteLineAsync(string.Format(inv,
            "decode (ffmpeg → rgb24 pipe → pooled frame, separate): {0:0.0} frames/s over {1} frames",
            decoded.FramesPerSecond, decoded.Frames.Count)).ConfigureAwait(false);
        await o.WriteLineAsync(string.Format(inv,
            "pipeline: {0} frames in {1:0.000} s = {2:0.0} frames/s (outbox drained at {3:0.0} frames/s); {4:0.00} faces/frame; CPU {5:0.00} s ({6:0}% of one core); {7:0} B allocated/frame (all threads)",
            frames, elapsed.TotalSeconds, frames / elapsed.TotalSeconds, frames / drained.TotalSeconds, (double)Interlocked.Read(ref faceCount) / frames,
            cpu.TotalSeconds, 100 * cpu.TotalSeconds / drained.TotalSeconds, (double)allocated / frames)).ConfigureAwait(false);
        await o.WriteLineAsync("stage          count     p50 ms     p99 ms").ConfigureAwait(false);
        string[] order = ["analyze", "detect", "crop", "score", "explain", "event", "enqueue", "sink"];
        foreach (var stage in order.Concat(samples.Keys.Except(order)))
        {
            if (samples.TryGetValue(stage, out var list) && list.Count > 0)
            {
                await o.WriteLineAsync(Row(stage, list)).ConfigureAwait(false);
            }
        }

        await o.WriteLineAsync(Row("frame (total)", [.. perFrame])).ConfigureAwait(false);
        return 0;
    }

    private static string Row(string stage, List<double> seconds)
    {
        seconds.Sort();
        return string.Format(CultureInfo.InvariantCulture, "{0,-13} {1,6} {2,10:0.000} {3,10:0.000}",
            stage, seconds.Count, Percentile(seconds, 0.50) * 1000, Percentile(seconds, 0.99) * 1000);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private sealed record Decoded(List<byte[]> Frames, double FramesPerSecond, string? Error);

    private static async Task<Decoded> DecodeAsync(IServiceProvider provider, int distinct, CancellationToken cancellationToken)
    {
        var source = provider.GetRequiredService<IFrameSource>();
        var channel = provider.GetRequiredService<PipelineChannels>().Frames;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(60));
        var run = source.RunAsync(channel.Writer, cts.Token);
        var copies = new List<byte[]>(distinct);
        long firstCount = 0;
        var clock = new Stopwatch();
        try
        {
            await foreach (var frame in channel.Reader.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                using (frame)
                {
                    if (copies.Count == 0)
                    {
                        clock.Start();
                        firstCount = source.Status.Frames;
                    }

                    copies.Add(frame.Rgb24.ToArray());
                }

                if (copies.Count == distinct)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        // keep decoding a moment longer to measure the steady rate, then stop the camera
        var measureUntil = clock.Elapsed + TimeSpan.FromSeconds(1);
        while (clock.IsRunning && clock.Elapsed < measureUntil && !run.IsCompleted)
        {
            while (channel.Reader.TryRead(out var f))
            {
                f.Dispose();
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }

        var rate = clock.IsRunning ? (source.Status.Frames - firstCount) / clock.Elapsed.TotalSeconds : 0;
        await cts.CancelAsync().ConfigureAwait(false);
        await run.ConfigureAwait(false);
        FrameChannel.Drain(channel.Reader);
        return new Decoded(copies, rate, source.Status.LastError);
    }
}
