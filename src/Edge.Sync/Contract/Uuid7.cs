using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Edge.Sync.Contract;

/// <summary>
/// UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter in <c>rand_a</c> (method 1 of
/// section 6.2) so ids made in the same millisecond still sort in creation order, then 62 random bits.
/// Time comes from the injected <see cref="TimeProvider"/>; if the clock steps back, the last timestamp is kept.
/// </summary>
public sealed class Uuid7Generator(TimeProvider timeProvider)
{
    private readonly Lock _gate = new();
    private long _lastMs = -1;
    private int _counter;

    /// <summary>A new id, lowercase text form (<c>xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx</c>).</summary>
    public string NewId() => NewGuid().ToString("D");

    /// <summary>A new id as a <see cref="Guid"/> (big-endian byte order, as RFC 9562 lays it out).</summary>
    public Guid NewGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes[6..]);
        long ms;
        int counter;
        lock (_gate)
        {
            ms = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            if (ms > _lastMs)
            {
                _lastMs = ms;
                _counter = bytes[6] & 0x03; // random start in the low range leaves room to count up
            }
            else
            {
                ms = _lastMs;
                if (++_counter > 0xFFF)
                {
                    // Counter overflow: borrow the next millisecond (monotonicity beats exactness here).
                    _lastMs = ++ms;
                    _counter = 0;
                }
            }

            counter = _counter;
        }

        BinaryPrimitives.WriteInt64BigEndian(bytes, ms << 16);
        bytes[6] = (byte)(0x70 | ((counter >> 8) & 0x0F));
        bytes[7] = (byte)counter;
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>The Unix-millisecond timestamp inside a version 7 id, or null when it is not one.</summary>
    public static long? TimestampOf(string id)
    {
        if (!Guid.TryParseExact(id, "D", out var guid) || guid.Version != 7)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        return BinaryPrimitives.ReadInt64BigEndian(bytes) >>> 16;
    }
}
