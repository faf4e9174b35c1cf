using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Audit.Ingest;
using Edge.Audit.Storage;
using Microsoft.AspNetCore.Mvc;

namespace Edge.Audit.Api;

public sealed record ScoresDto(double Angry, double Disgust, double Fear, double Happy, double Sad, double Surprise, double Neutral)
{
    public static ScoresDto From(EventRow r) => new(r.Angry, r.Disgust, r.Fear, r.Happy, r.Sad, r.Surprise, r.Neutral);
}

public sealed record EventDto(
    string EventId, string SiteId, string KioskId, DateTimeOffset CapturedAt, ScoresDto Scores, string TopClass,
    bool Flagged, string FlagReason, string ReviewState)
{
    public static EventDto From(EventRow r) => new(r.EventId, r.SiteId, r.KioskId, DateTimeOffset.FromUnixTimeMilliseconds(r.CapturedAtMs),
        ScoresDto.From(r), r.TopClass, r.Flagged, r.FlagReason, r.ReviewState);
}

public sealed record EventPageDto(IReadOnlyList<EventDto> Items, string? NextCursor);

public sealed record BoxDto(double X1, double Y1, double X2, double Y2);

/// <summary>A heatmap decoded server-side (codec v1) to relevance values, row-major; Values is null with a Note when there is none.</summary>
public sealed record HeatmapDto(string TargetClass, int CodecVersion, int Width, int Height, double Scale, float[]? Values, string? Note);

public sealed record ReviewDto(long Id, string EventId, string Action, string Comment, string Actor, DateTimeOffset At)
{
    public static ReviewDto From(ReviewRow r) => new(r.Id, r.EventId, r.Action, r.Comment, r.Actor, DateTimeOffset.FromUnixTimeMilliseconds(r.AtMs));
}

public sealed record EventDetailDto(
    EventDto Event, DateTimeOffset ReceivedAt, string ModelId, string ModelSha256, BoxDto Box, double DetectorScore,
    int FrameWidth, int FrameHeight, IReadOnlyList<HeatmapDto> Heatmaps, string? FaceCropPngBase64, IReadOnlyList<ReviewDto> Reviews)
{
    public static EventDetailDto From(EventDetailRecord d)
    {
        var r = d.Event;
        var heatmaps = d.Heatmaps.Select(h =>
        {
            var values = HeatmapDecoder.Decode((int)h.CodecVersion, (int)h.Width, (int)h.Height, (float)h.Scale, h.Data);
            var note = values is not null ? null : h.Data.Length == 0 ? "no heatmap" : $"heatmap codec {h.CodecVersion} cannot be shown";
            return new HeatmapDto(h.TargetClass, (int)h.CodecVersion, (int)h.Width, (int)h.Height, h.Scale, values, note);
        }).ToList();
        return new EventDetailDto(EventDto.From(r), DateTimeOffset.FromUnixTimeMilliseconds(r.ReceivedAtMs), r.ModelId, r.ModelSha256,
            new BoxDto(r.BoxX1, r.BoxY1, r.BoxX2, r.BoxY2), r.DetectorScore, (int)r.FrameWidth, (int)r.FrameHeight, heatmaps,
            d.FaceCropPng is null ? null : Convert.ToBase64String(d.FaceCropPng), d.Reviews.Select(ReviewDto.From).ToList());
    }
}

public sealed record ReviewRequest(string? Action, string? Comment);

public sealed record ExpressionStatsDto(double Mean, double P50, double P90, double P99);

public sealed record SummaryDto(
    string? SiteId, string? KioskId, DateTimeOffset? Hour, long Events, long Flagged, double FlagRate,
    IReadOnlyDictionary<string, ExpressionStatsDto> Expressions);

public sealed record SummaryResponseDto(IReadOnlyList<SummaryDto> Groups, int RollupRows);

public sealed record TimelinePointDto(DateTimeOffset Hour, long Events, double HappyMean, double FlagRate);

public sealed record KioskDto(
    string SiteId, string KioskId, bool Online, DateTimeOffset LastSeen, DateTimeOffset StatusTime, long OutboxPending,
    double OldestPendingAgeSeconds, string ModelId, string Version)
{
    public static KioskDto From(KioskStatusRow r) => new(r.SiteId, r.KioskId, r.Online, DateTimeOffset.FromUnixTimeMilliseconds(r.LastSeenMs),
        DateTimeOffset.FromUnixTimeMilliseconds(r.StatusTimeMs), r.OutboxPending, r.OldestPendingAgeSeconds, r.ModelId, r.Version);
}

public sealed record TokenCreateRequest(string? Owner, string? Role);

public sealed record TokenCreatedDto(long Id, string Owner, string Role, string Token);

public sealed record TokenDto(long Id, string Owner, string Role, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public sealed record WhoAmIDto(string Owner, string Role);

public sealed record HealthDto(string Status);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(EventPageDto))]
[JsonSerializable(typeof(EventDetailDto))]
[JsonSerializable(typeof(ReviewRequest))]
[JsonSerializable(typeof(ReviewDto))]
[JsonSerializable(typeof(SummaryResponseDto))]
[JsonSerializable(typeof(List<TimelinePointDto>))]
[JsonSerializable(typeof(List<KioskDto>))]
[JsonSerializable(typeof(TokenCreateRequest))]
[JsonSerializable(typeof(TokenCreatedDto))]
[JsonSerializable(typeof(List<TokenDto>))]
[JsonSerializable(typeof(RetentionResult))]
[JsonSerializable(typeof(IngestSnapshot))]
[JsonSerializable(typeof(WhoAmIDto))]
[JsonSerializable(typeof(HealthDto))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(HttpValidationProblemDetails))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;
