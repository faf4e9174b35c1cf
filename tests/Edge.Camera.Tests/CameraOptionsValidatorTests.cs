namespace Edge.Camera.Tests;

public sealed class CameraOptionsValidatorTests
{
    private static readonly CameraOptionsValidator s_validator = new();

    [Fact]
    public void Validate_Defaults_WithSource_Succeeds()
    {
        var result = s_validator.Validate(null, new CameraOptions { Source = "/dev/video0" });
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Validate_MissingSource_FailsNamingKey()
    {
        var result = s_validator.Validate(null, new CameraOptions());
        Assert.True(result.Failed);
        Assert.Contains("Camera:Source", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rtsp://", "Camera:Source")]
    [InlineData("ftp://host/x", "Camera:Source")]
    public void Validate_MalformedUrl_FailsNamingKey(string source, string key)
    {
        var result = s_validator.Validate(null, new CameraOptions { Source = source });
        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OutOfRangeValues_ReportsEachKey()
    {
        var result = s_validator.Validate(null, new CameraOptions
        {
            Source = "/dev/video0",
            Width = 0,
            Fps = 500,
            StallTimeout = TimeSpan.FromMilliseconds(10),
            RestartDelay = TimeSpan.FromSeconds(5),
            RestartMaxDelay = TimeSpan.FromSeconds(1),
            RtspTransport = "sctp",
        });

        Assert.True(result.Failed);
        foreach (var key in new[] { "Camera:Width", "Camera:Fps", "Camera:StallTimeout", "Camera:RestartMaxDelay", "Camera:RtspTransport" })
        {
            Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
        }
    }
}
