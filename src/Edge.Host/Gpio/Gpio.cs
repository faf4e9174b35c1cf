namespace Edge.Host.Gpio;

/// <summary>Opens GPIO lines. Production: libgpiod v1 (<see cref="LibGpiodDriver"/>); tests: a fake.</summary>
public interface IGpioDriver
{
    IGpioLine OpenInput(string chip, int offset, string consumer);

    IGpioLine OpenOutput(string chip, int offset, string consumer, int initialValue);
}

/// <summary>One requested line; disposing releases it.</summary>
public interface IGpioLine : IDisposable
{
    int Read();

    void Write(int value);
}

/// <summary>A GPIO call failed; the message names the chip and line and says why (errno text).</summary>
public sealed class GpioException : Exception
{
    public GpioException(string message) : base(message) { }

    public GpioException() { }

    public GpioException(string message, Exception inner) : base(message, inner) { }
}
