using Edge.Host.Gpio;
using Edge.Host.Options;
using Edge.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Host.Tests;

public sealed class GpioTests
{
    private static GpioOptions Options => new() { Enabled = true, Chip = "gpiochip0", PresenceLine = 17, LedLine = 27, PresenceHold = TimeSpan.FromSeconds(10) };

    [Fact]
    public void Poll_PresenceSeen_OpensAndStaysOpenForHoldThenCloses()
    {
        var driver = new FakeGpioDriver();
        var time = new ManualTimeProvider();
        using var gate = new GpioPresenceGate(driver, Microsoft.Extensions.Options.Options.Create(Options), time, NullLogger<GpioPresenceGate>.Instance);
        var pir = driver.Lines[("gpiochip0", 17)];

        gate.Poll();
        Assert.False(gate.IsOpen);
        var waiting = gate.WaitOpenAsync(CancellationToken.None);

        pir.Value = 1;
        gate.Poll();
        Assert.True(gate.IsOpen);
        Assert.True(waiting.IsCompleted);

        pir.Value = 0;
        time.Advance(TimeSpan.FromSeconds(9));
        gate.Poll();
        Assert.True(gate.IsOpen);

        time.Advance(TimeSpan.FromSeconds(2));
        gate.Poll();
        Assert.False(gate.IsOpen);
        Assert.False(gate.WaitOpenAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void Poll_ActiveLowSensor_ZeroMeansPresent()
    {
        var driver = new FakeGpioDriver();
        var options = Options;
        options.PresenceActiveHigh = false;
        using var gate = new GpioPresenceGate(driver, Microsoft.Extensions.Options.Options.Create(options), new ManualTimeProvider(), NullLogger<GpioPresenceGate>.Instance);

        driver.Lines[("gpiochip0", 17)].Value = 0;
        gate.Poll();

        Assert.True(gate.IsOpen);
    }

    [Fact]
    public void SetCapturing_ActiveHighLed_DrivesLineAndTurnsOffOnDispose()
    {
        var driver = new FakeGpioDriver();
        var led = new GpioCaptureLed(driver, Microsoft.Extensions.Options.Options.Create(Options), NullLogger<GpioCaptureLed>.Instance);
        var line = driver.Lines[("gpiochip0", 27)];
        Assert.Equal(0, line.Value);

        led.SetCapturing(true);
        Assert.Equal(1, line.Value);
        led.Dispose();

        Assert.Equal([1, 0], line.Writes);
        Assert.True(line.Disposed);
    }

    [Fact]
    public void OpenInput_RealLibgpiodMissingChip_ThrowsNamingChipAndErrno()
    {
        var driver = new LibGpiodDriver();

        var e = Assert.Throws<GpioException>(() => driver.OpenInput("gpiochip-edge-missing", 3, "edge-test"));

        Assert.Contains("cannot open GPIO chip 'gpiochip-edge-missing'", e.Message, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", e.Message, StringComparison.Ordinal);
    }
}
