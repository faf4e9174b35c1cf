using System.Runtime.InteropServices;

namespace Edge.Sync.Mqtt.Native;

/// <summary>
/// P/Invoke declarations for <c>libmosquitto.so.1</c> (Eclipse Mosquitto client library, 2.0 API).
/// Signatures and constants follow <c>mosquitto.h</c> and <c>mqtt_protocol.h</c> of the 2.0 release.
/// </summary>
internal static unsafe partial class MosquittoNative
{
    internal const string Library = "libmosquitto.so.1";

    // enum mosq_err_t (subset)
    internal const int MOSQ_ERR_CONN_PENDING = -1;
    internal const int MOSQ_ERR_SUCCESS = 0;
    internal const int MOSQ_ERR_NOMEM = 1;
    internal const int MOSQ_ERR_PROTOCOL = 2;
    internal const int MOSQ_ERR_INVAL = 3;
    internal const int MOSQ_ERR_NO_CONN = 4;
    internal const int MOSQ_ERR_CONN_REFUSED = 5;
    internal const int MOSQ_ERR_CONN_LOST = 7;
    internal const int MOSQ_ERR_TLS = 8;
    internal const int MOSQ_ERR_PAYLOAD_SIZE = 9;
    internal const int MOSQ_ERR_NOT_SUPPORTED = 10;
    internal const int MOSQ_ERR_AUTH = 11;
    internal const int MOSQ_ERR_ERRNO = 14;
    internal const int MOSQ_ERR_EAI = 15;
    internal const int MOSQ_ERR_KEEPALIVE = 19;
    internal const int MOSQ_ERR_TLS_HANDSHAKE = 23;
    internal const int MOSQ_ERR_OVERSIZE_PACKET = 25;

    // enum mosq_opt_t (subset)
    internal const int MOSQ_OPT_PROTOCOL_VERSION = 1;
    internal const int MOSQ_OPT_RECEIVE_MAXIMUM = 4;
    internal const int MOSQ_OPT_SEND_MAXIMUM = 5;
    internal const int MOSQ_OPT_TCP_NODELAY = 11;

    internal const int MQTT_PROTOCOL_V311 = 4;
    internal const int MQTT_PROTOCOL_V5 = 5;

    // enum mqtt5_property (subset)
    internal const int MQTT_PROP_CONTENT_TYPE = 3;
    internal const int MQTT_PROP_SESSION_EXPIRY_INTERVAL = 17;

    // MQTT 3.1.1 CONNACK return code and MQTT 5 reason code for "unsupported protocol version".
    internal const int CONNACK_REFUSED_PROTOCOL_VERSION = 1;
    internal const int MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84;

    /// <summary>struct mosquitto_message (mosquitto.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MosquittoMessage
    {
        public int Mid;
        public byte* Topic;
        public byte* Payload;
        public int PayloadLength;
        public int Qos;
        [MarshalAs(UnmanagedType.U1)] public bool Retain;
    }

    [LibraryImport(Library, EntryPoint = "mosquitto_lib_init")]
    internal static partial int LibInit();

    [LibraryImport(Library, EntryPoint = "mosquitto_lib_version")]
    internal static partial int LibVersion(out int major, out int minor, out int revision);

    [LibraryImport(Library, EntryPoint = "mosquitto_new", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr New(string? id, [MarshalAs(UnmanagedType.U1)] bool cleanSession, IntPtr userData);

    [LibraryImport(Library, EntryPoint = "mosquitto_destroy")]
    internal static partial void Destroy(IntPtr mosq);

    [LibraryImport(Library, EntryPoint = "mosquitto_int_option")]
    internal static partial int IntOption(MosquittoHandle mosq, int option, int value);

    [LibraryImport(Library, EntryPoint = "mosquitto_threaded_set")]
    internal static partial int ThreadedSet(MosquittoHandle mosq, [MarshalAs(UnmanagedType.U1)] bool threaded);

    [LibraryImport(Library, EntryPoint = "mosquitto_username_pw_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UsernamePwSet(MosquittoHandle mosq, string? username, string? password);

    [LibraryImport(Library, EntryPoint = "mosquitto_tls_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int TlsSet(MosquittoHandle mosq, string? caFile, string? caPath, string? certFile, string? keyFile, IntPtr passwordCallback);

    [LibraryImport(Library, EntryPoint = "mosquitto_tls_insecure_set")]
    internal static partial int TlsInsecureSet(MosquittoHandle mosq, [MarshalAs(UnmanagedType.U1)] bool insecure);

    [LibraryImport(Library, EntryPoint = "mosquitto_will_set_v5", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int WillSetV5(MosquittoHandle mosq, string topic, int payloadLength, byte* payload, int qos, [MarshalAs(UnmanagedType.U1)] bool retain, IntPtr properties);

    [LibraryImport(Library, EntryPoint = "mosquitto_connect_bind_v5", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int ConnectBindV5(MosquittoHandle mosq, string host, int port, int keepAlive, string? bindAddress, IntPtr properties);

    [LibraryImport(Library, EntryPoint = "mosquitto_disconnect_v5")]
    internal static partial int DisconnectV5(MosquittoHandle mosq, int reasonCode, IntPtr properties);

    [LibraryImport(Library, EntryPoint = "mosquitto_loop", SetLastError = true)]
    internal static partial int Loop(MosquittoHandle mosq, int timeoutMs, int maxPackets);

    // The pieces of mosquitto_loop, for the loop that holds PUBACKs (MosquittoTransport with AckAfterHandled).
    [LibraryImport(Library, EntryPoint = "mosquitto_loop_read", SetLastError = true)]
    internal static partial int LoopRead(MosquittoHandle mosq, int maxPackets);

    [LibraryImport(Library, EntryPoint = "mosquitto_loop_write", SetLastError = true)]
    internal static partial int LoopWrite(MosquittoHandle mosq, int maxPackets);

    [LibraryImport(Library, EntryPoint = "mosquitto_loop_misc", SetLastError = true)]
    internal static partial int LoopMisc(MosquittoHandle mosq);

    [LibraryImport(Library, EntryPoint = "mosquitto_want_write")]
    [return: MarshalAs(UnmanagedType.U1)]
    internal static partial bool WantWrite(MosquittoHandle mosq);

    [LibraryImport(Library, EntryPoint = "mosquitto_publish_v5")]
    internal static partial int PublishV5(MosquittoHandle mosq, out int mid, byte* topic, int payloadLength, byte* payload, int qos, [MarshalAs(UnmanagedType.U1)] bool retain, IntPtr properties);

    [LibraryImport(Library, EntryPoint = "mosquitto_subscribe_v5")]
    internal static partial int SubscribeV5(MosquittoHandle mosq, out int mid, byte* subscription, int qos, int options, IntPtr properties);

    [LibraryImport(Library, EntryPoint = "mosquitto_property_add_int32")]
    internal static partial int PropertyAddInt32(ref IntPtr properties, int identifier, uint value);

    [LibraryImport(Library, EntryPoint = "mosquitto_property_add_string", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int PropertyAddString(ref IntPtr properties, int identifier, string value);

    [LibraryImport(Library, EntryPoint = "mosquitto_property_free_all")]
    internal static partial void PropertyFreeAll(ref IntPtr properties);

    [LibraryImport(Library, EntryPoint = "mosquitto_socket")]
    internal static partial int Socket(MosquittoHandle mosq);

    [LibraryImport(Library, EntryPoint = "mosquitto_strerror")]
    internal static partial IntPtr StrError(int rc);

    [LibraryImport(Library, EntryPoint = "mosquitto_reason_string")]
    internal static partial IntPtr ReasonString(int reasonCode);

    [LibraryImport(Library, EntryPoint = "mosquitto_connack_string")]
    internal static partial IntPtr ConnackString(int code);

    // Callback setters: the callbacks are static [UnmanagedCallersOnly] functions, so there is no delegate to keep alive;
    // the instance is found through the user-data pointer (a GCHandle owned by the transport).
    [LibraryImport(Library, EntryPoint = "mosquitto_connect_v5_callback_set")]
    internal static partial void ConnectV5CallbackSet(MosquittoHandle mosq, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, IntPtr, void> callback);

    [LibraryImport(Library, EntryPoint = "mosquitto_disconnect_v5_callback_set")]
    internal static partial void DisconnectV5CallbackSet(MosquittoHandle mosq, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, IntPtr, void> callback);

    [LibraryImport(Library, EntryPoint = "mosquitto_publish_v5_callback_set")]
    internal static partial void PublishV5CallbackSet(MosquittoHandle mosq, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, IntPtr, void> callback);

    [LibraryImport(Library, EntryPoint = "mosquitto_subscribe_v5_callback_set")]
    internal static partial void SubscribeV5CallbackSet(MosquittoHandle mosq, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, int*, IntPtr, void> callback);

    [LibraryImport(Library, EntryPoint = "mosquitto_message_v5_callback_set")]
    internal static partial void MessageV5CallbackSet(MosquittoHandle mosq, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, MosquittoMessage*, IntPtr, void> callback);

    [LibraryImport(Library, EntryPoint = "mosquitto_log_callback_set")]
    internal static partial void LogCallbackSet(MosquittoHandle mosq, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, byte*, void> callback);

    private static readonly Lazy<(int Major, int Minor, int Revision)> Initialised = new(() =>
    {
        var rc = LibInit();
        if (rc != MOSQ_ERR_SUCCESS)
        {
            throw new MqttTransportException($"mosquitto_lib_init failed: {ErrorText(rc)}", rc);
        }

        LibVersion(out var major, out var minor, out var revision);
        return (major, minor, revision);
    });

    /// <summary>Calls <c>mosquitto_lib_init</c> once per process and returns the library version.</summary>
    internal static (int Major, int Minor, int Revision) EnsureInitialised() => Initialised.Value;

    internal static string ErrorText(int rc) => rc == MOSQ_ERR_ERRNO
        ? $"{Marshal.PtrToStringUTF8(StrError(rc))} ({Marshal.GetLastPInvokeErrorMessage()})"
        : Marshal.PtrToStringUTF8(StrError(rc)) ?? $"error {rc}";

    internal static string ReasonText(int reasonCode) => Marshal.PtrToStringUTF8(ReasonString(reasonCode)) ?? $"reason {reasonCode}";
}

/// <summary>The one owner of a <c>struct mosquitto *</c>; <c>mosquitto_destroy</c> runs exactly once.</summary>
internal sealed class MosquittoHandle : SafeHandle
{
    public MosquittoHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    internal MosquittoHandle(IntPtr existing) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(existing);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        MosquittoNative.Destroy(handle);
        return true;
    }
}
