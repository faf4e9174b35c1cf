namespace Edge.Explain.Heatmaps;

/// <summary>
/// An adaptive probability for one binary decision (heatmap codec v2): <see cref="P"/> is the chance of a 0 in
/// units of 2⁻¹⁶ (starts at ½, stays within 1..65535); after each bit it moves toward the bit by 2^−shift of the
/// distance, shift = min(5, bit length of (count + 1)): fast while a context is new, steady once it has seen 15 bits.
/// </summary>
internal struct BitModel
{
    public ushort P;
    public byte Count;

    public static BitModel Initial => new() { P = 32768 };

    public void Update(int bit)
    {
        var shift = Count switch
        {
            0 => 1,
            < 3 => 2,
            < 7 => 3,
            < 15 => 4,
            _ => 5,
        };
        if (Count < 15)
        {
            Count++;
        }

        P = bit == 0 ? (ushort)(P + ((65536 - P) >> shift)) : (ushort)(P - (P >> shift));
    }
}

/// <summary>
/// Binary range encoder (32-bit range, carry propagated through a cached byte and a run of pending 0xFF bytes) into a
/// caller's span. Bytes past the span's end are counted but dropped (<see cref="Overflow"/>). <see cref="Finish"/>
/// ends on the value of the final interval with the most trailing zero bits and trims trailing zero bytes: the decoder
/// reads missing bytes as zeros.
/// </summary>
internal ref struct RangeEncoder(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;
    private ulong _low;
    private uint _range = uint.MaxValue;
    private byte _cache;
    private bool _haveCache;
    private int _pending;
    private int _position;

    /// <summary>Bytes written so far (including any that did not fit).</summary>
    public readonly int Length => _position;

    public readonly bool Overflow => _position > _destination.Length;

    public void Encode(ref BitModel model, int bit)
    {
        var bound = (_range >> 16) * model.P;
        if (bit == 0)
        {
            _range = bound;
        }
        else
        {
            _low += bound;
            _range -= bound;
        }

        model.Update(bit);
        Normalise();
    }

    /// <summary>Writes <paramref name="count"/> low bits of <paramref name="value"/>, most significant first, at probability ½.</summary>
    public void EncodeDirect(uint value, int count)
    {
        for (var i = count - 1; i >= 0; i--)
        {
            _range >>= 1;
            if (((value >> i) & 1) != 0)
            {
                _low += _range;
            }

            Normalise();
        }
    }

    /// <summary>Flushes the final interval; returns the stream's length after trailing zero bytes are trimmed.</summary>
    public int Finish()
    {
        // The value in [low, low + range) with the most trailing zero bits: its zero bytes need not be sent.
        for (var bits = 32; bits > 0; bits--)
        {
            var mask = (1UL << bits) - 1;
            var v = (_low + mask) & ~mask;
            if (v - _low < _range)
            {
                _low = v;
                break;
            }
        }

        for (var i = 0; i < 5; i++)
        {
            ShiftLow();
        }

        while (!Overflow && _position > 0 && _destination[_position - 1] == 0)
        {
            _position--;
        }

        return _position;
    }

    private void Normalise()
    {
        while (_range < 1u << 24)
        {
            _range <<= 8;
            ShiftLow();
        }
    }

    private void ShiftLow()
    {
        // The byte leaving the 32-bit window is final unless it is 0xFF without a carry (a later carry could still reach it).
        if ((_low >> 24) != 0xFF)
        {
            var carry = (byte)(_low >> 32);
            if (_haveCache)
            {
                Emit((byte)(_cache + carry));
            }

            for (; _pending > 0; _pending--)
            {
                Emit((byte)(0xFF + carry));
            }

            _cache = (byte)(_low >> 24);
            _haveCache = true;
        }
        else
        {
            _pending++;
        }

        _low = (_low & 0x00FF_FFFF) << 8;
    }

    private void Emit(byte b)
    {
        if (_position < _destination.Length)
        {
            _destination[_position] = b;
        }

        _position++;
    }
}

/// <summary>The decoder of <see cref="RangeEncoder"/>; bytes past the end of the data read as zeros.</summary>
internal ref struct RangeDecoder
{
    private readonly ReadOnlySpan<byte> _data;
    private uint _code;
    private uint _range = uint.MaxValue;
    private int _position;

    public RangeDecoder(ReadOnlySpan<byte> data)
    {
        _data = data;
        for (var i = 0; i < 4; i++)
        {
            _code = (_code << 8) | NextByte();
        }
    }

    /// <summary>Bytes read so far, counting the zeros read past the end.</summary>
    public readonly int Position => _position;

    public int Decode(ref BitModel model)
    {
        var bound = (_range >> 16) * model.P;
        int bit;
        if (_code < bound)
        {
            _range = bound;
            bit = 0;
        }
        else
        {
            _code -= bound;
            _range -= bound;
            bit = 1;
        }

        model.Update(bit);
        Normalise();
        return bit;
    }

    public uint DecodeDirect(int count)
    {
        uint value = 0;
        for (var i = 0; i < count; i++)
        {
            _range >>= 1;
            var bit = _code >= _range ? 1u : 0u;
            if (bit != 0)
            {
                _code -= _range;
            }

            value = (value << 1) | bit;
            Normalise();
        }

        return value;
    }

    private void Normalise()
    {
        while (_range < 1u << 24)
        {
            _range <<= 8;
            _code = (_code << 8) | NextByte();
        }
    }

    private uint NextByte()
    {
        var b = _position < _data.Length ? _data[_position] : (byte)0;
        _position++;
        return b;
    }
}
