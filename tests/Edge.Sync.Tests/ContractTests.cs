using Edge.Sync.Contract;
using Edge.Testing;
using Google.Protobuf;

namespace Edge.Sync.Tests;

public sealed class ContractTests
{
    [Theory]
    [InlineData("site-a", true)]
    [InlineData("K_01", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a+b", false)]
    [InlineData("#", false)]
    [InlineData("$SYS", false)]
    [InlineData("has space", false)]
    [InlineData("-leading", false)]
    [InlineData("é", false)]
    public void IsValid_Id_MatchesTopicSafeRule(string id, bool expected) => Assert.Equal(expected, EdgeIds.IsValid(id));

    [Fact]
    public void Events_ValidIds_BuildsVersionedTopicThatParsesBack()
    {
        var topic = EdgeTopics.Events("site-a", "kiosk-1");

        Assert.Equal("edge/v1/site-a/kiosk-1/events", topic);
        Assert.Equal("edge/v1/site-a/kiosk-1/status", EdgeTopics.Status("site-a", "kiosk-1"));
        Assert.Equal("edge/v1/site-a/kiosk-1/drift", EdgeTopics.Drift("site-a", "kiosk-1"));
        Assert.Equal("$share/audit/edge/v1/+/+/events", EdgeTopics.Shared("audit", EdgeTopics.AllKiosks("events")));
        Assert.True(EdgeTopics.TryParse(topic, out var site, out var kiosk, out var kind));
        Assert.Equal(("site-a", "kiosk-1", "events"), (site, kiosk, kind));
        Assert.Throws<ArgumentException>(() => EdgeTopics.Events("site/a", "k"));
    }

    [Theory]
    [InlineData("edge/v1/+/+/events", "edge/v1/s/k/events", true)]
    [InlineData("$share/g/edge/v1/+/+/events", "edge/v1/s/k/events", true)]
    [InlineData("edge/v1/#", "edge/v1/s/k/status", true)]
    [InlineData("edge/v1/+/+/events", "edge/v1/s/k/status", false)]
    [InlineData("edge/v1/+/events", "edge/v1/s/k/events", false)]
    [InlineData("#", "$SYS/broker/uptime", false)]
    public void Matches_Filter_FollowsMqttWildcards(string filter, string topic, bool expected) =>
        Assert.Equal(expected, Mqtt.TopicFilter.Matches(filter, topic));

    [Fact]
    public void NewId_SameMillisecond_Version7SortedAndCarriesTimestamp()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        var generator = new Uuid7Generator(time);
        var ids = Enumerable.Range(0, 1000).Select(_ => generator.NewId()).ToList();
        time.Advance(TimeSpan.FromMilliseconds(1));
        var later = generator.NewId();

        Assert.All(ids, id => Assert.Equal(7, Guid.Parse(id).Version));
        Assert.All(ids, id => Assert.Contains(id[19], "89ab"));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.True(string.CompareOrdinal(ids[^1], later) < 0);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), Uuid7Generator.TimestampOf(later));
    }

    [Fact]
    public void ToJson_FullEvent_RoundTripsThroughJsonAndBinary()
    {
        var e = SampleEvent();

        var json = FaceEventContract.ToJson(e);
        var back = FaceEventContract.FaceEventFromJson(json);
        var binary = FaceEventContract.FromBytes(FaceEventContract.ToBytes(e));

        Assert.Equal(e, back);
        Assert.Equal(e, binary);
        Assert.Contains("\"eventId\": \"0190f5c4-0000-7000-8000-000000000001\"", json, StringComparison.Ordinal);
        Assert.Contains("\"captureTimeUnixMs\": \"1763726400123\"", json, StringComparison.Ordinal);
        Assert.Empty(FaceEventContract.Validate(e));
    }

    [Fact]
    public void FromBytes_PayloadFromNewerWriterWithUnknownField_ReadsKnownFieldsAndKeepsUnknown()
    {
        // Evolution rule: a newer writer adds field 99; an old reader must still read every field it knows.
        var e = SampleEvent();
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        e.WriteTo(output);
        output.WriteTag(99, WireFormat.WireType.LengthDelimited);
        output.WriteString("added-in-a-later-version");
        output.Flush();
        var newer = stream.ToArray();

        var read = FaceEventContract.FromBytes(newer);

        Assert.Equal(e.EventId, read.EventId);
        Assert.Equal(e.Scores, read.Scores);
        Assert.Equal(newer.Length, read.ToByteArray().Length); // unknown field preserved on re-serialisation
        Assert.Equal(e.EventId, FaceEventContract.FaceEventFromJson("{\"eventId\":\"" + e.EventId + "\",\"fieldFromTheFuture\":1}").EventId);
    }

    [Fact]
    public void Validate_BrokenEvent_ListsEveryProblem()
    {
        var e = new FaceEvent { SchemaVersion = 2, EventId = "nope", SiteId = "a/b", KioskId = "", Flagged = true, Scores = new Expressions { Happy = 1.5f } };

        var problems = FaceEventContract.Validate(e);

        Assert.Equal(7, problems.Count);
    }

    internal static FaceEvent SampleEvent() => new()
    {
        SchemaVersion = 1,
        EventId = "0190f5c4-0000-7000-8000-000000000001",
        SiteId = "plant-7",
        KioskId = "gate-2",
        CaptureTimeUnixMs = 1_763_726_400_123,
        ModelId = "emotion-int8-v1",
        ModelSha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        Scores = new Expressions { Angry = 0.01f, Disgust = 0.0f, Fear = 0.02f, Happy = 0.81f, Sad = 0.03f, Surprise = 0.05f, Neutral = 0.08f },
        Flagged = true,
        FlagReason = "happy above 0.8",
        FaceBox = new Box { X1 = 212, Y1 = 96, X2 = 348, Y2 = 262 },
        DetectorScore = 0.97f,
        Heatmaps = { new Heatmap { TargetClass = "happy", CodecVersion = 1, Width = 16, Height = 16, Scale = 0.0042f, Data = ByteString.CopyFrom(1, 2, 3, 4) } },
        FrameWidth = 640,
        FrameHeight = 480,
    };
}

public sealed class ContractDocumentationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Readme_ExamplePayload_IsTheJsonRenderingOfTheSampleEvent()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "src", "Edge.Sync", "README.md"));
        var json = FaceEventContract.ToJson(ContractTests.SampleEvent());
        output.WriteLine(json);
        var start = readme.IndexOf("```json", StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no json example");
        var end = readme.IndexOf("```", start + 7, StringComparison.Ordinal);
        var example = readme[(start + 7)..end].Trim();

        Assert.Equal(ContractTests.SampleEvent(), FaceEventContract.FaceEventFromJson(example));
        var size = FaceEventContract.ToBytes(ContractTests.SampleEvent()).Length;
        Assert.Contains($"this example is {size} bytes", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Readme_StatusExample_ParsesAsKioskStatusOfTheStatedSize()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "src", "Edge.Sync", "README.md"));
        var first = readme.IndexOf("```json", StringComparison.Ordinal);
        var start = readme.IndexOf("```json", first + 7, StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no status example");
        var end = readme.IndexOf("```", start + 7, StringComparison.Ordinal);

        var status = Google.Protobuf.JsonParser.Default.Parse<KioskStatus>(readme[(start + 7)..end].Trim());

        Assert.Equal((1u, "plant-7", "gate-2", true), (status.SchemaVersion, status.SiteId, status.KioskId, status.Online));
        var size = Google.Protobuf.MessageExtensions.ToByteArray(status).Length;
        output.WriteLine($"{size} bytes");
        Assert.Contains($"(`KioskStatus`, {size} bytes on the wire", readme, StringComparison.Ordinal);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Edge.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("Edge.sln not found above the test binaries");
    }
}
