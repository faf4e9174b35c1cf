using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Edge.Host.Gpio;

/// <summary>GPIO through libgpiod.so.2 (Debian libgpiod2, the v1 C API) by P/Invoke. Each line owns its chip handle.</summary>
public sealed partial class LibGpiodDriver : IGpioDriver
{
    private const string Library = "libgpiod.so.2";

    public IGpioLine OpenInput(string chip, int offset, string consumer) =>
        Open(chip, offset, consumer, static (line, c) => gpiod_line_request_input(line, c), "input");

    public IGpioLine OpenOutput(string chip, int offset, string consumer, int initialValue) =>
        Open(chip, offset, consumer, (line, c) => gpiod_line_request_output(line, c, initialValue), "output");

    private static GpiodLine Open(string chip, int offset, string consumer, Func<nint, string, int> request, string direction)
    {
        var handle = gpiod_chip_open_by_name(chip);
        if (handle.IsInvalid)
        {
            var error = Marshal.GetLastPInvokeErrorMessage();
            handle.Dispose();
            throw new GpioException($"cannot open GPIO chip '{chip}': {error} (Gpio:Chip)");
        }

        try
        {
            var line = gpiod_chip_get_line(handle, (uint)offset);
            if (line == 0)
            {
                throw new GpioException($"GPIO chip '{chip}' has no line {offset}: {Marshal.GetLastPInvokeErrorMessage()}");
            }

            if (request(line, consumer) != 0)
            {
                throw new GpioException($"cannot request GPIO {chip}:{offset} as {direction}: {Marshal.GetLastPInvokeErrorMessage()}");
            }

            return new GpiodLine(handle, line, $"{chip}:{offset}");
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private sealed class GpiodLine(ChipHandle chip, nint line, string name) : IGpioLine
    {
        private int _disposed;

        public int Read()
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var value = gpiod_line_get_value(line);
            return value < 0 ? throw new GpioException($"reading GPIO {name}: {Marshal.GetLastPInvokeErrorMessage()}") : value;
        }

        public void Write(int value)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (gpiod_line_set_value(line, value) != 0)
            {
                throw new GpioException($"writing GPIO {name}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                gpiod_line_release(line);
                chip.Dispose();
            }
        }
    }

    internal sealed class ChipHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public ChipHandle() : base(ownsHandle: true) { }

        protected override bool ReleaseHandle()
        {
            gpiod_chip_close(handle);
            return true;
        }
    }

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial ChipHandle gpiod_chip_open_by_name(string name);

    [LibraryImport(Library)]
    private static partial void gpiod_chip_close(nint chip);

    [LibraryImport(Library, SetLastError = true)]
    private static partial nint gpiod_chip_get_line(ChipHandle chip, uint offset);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int gpiod_line_request_input(nint line, string consumer);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int gpiod_line_request_output(nint line, string consumer, int defaultValue);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int gpiod_line_get_value(nint line);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int gpiod_line_set_value(nint line, int value);

    [LibraryImport(Library)]
    private static partial void gpiod_line_release(nint line);
}
