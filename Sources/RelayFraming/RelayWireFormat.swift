public import NIOCore
public import NIOHPACK
public import NIOHTTP2

/// The outer relay wire format: HTTP/2 (RFC 9113) over the phone's TLS 1.3 uplink, one
/// client-initiated stream per pump link, the stream's DATA frames carrying the pump's raw
/// TLS 1.2 records. The relay cannot read them and the format gives it nothing to read.
///
/// | step            | HTTP/2 frame                 | content                                          |
/// |-----------------|------------------------------|--------------------------------------------------|
/// | uplink ready    | SETTINGS (both ways)         | see ``gatewaySettings`` and ``relaySettings``    |
/// | open a link     | HEADERS relay → gateway      | `:method POST`, `:scheme https`, `:authority     |
/// |                 |                              | GATEWAY`, `:path /medtunnel/v1/pump-link`,       |
/// |                 |                              | `content-type application/octet-stream`; nothing |
/// |                 |                              | about the pump (the inner TLS names it)          |
/// | accept          | HEADERS gateway → relay      | `:status 200`                                    |
/// | refuse          | HEADERS + END_STREAM         | `:status 404` (wrong method or path)             |
/// | bytes           | DATA, either way             | opaque pump TLS bytes, at most ``maximumFrameSize`` |
/// | link ended      | DATA + END_STREAM (may be    | from each side: whichever ends first, the other  |
/// |                 | empty), both ways            | answers; no reset (see ``streamEndTimeout``)     |
/// | link failed     | RST_STREAM                   | refused, out of place, or not ended in time      |
///
/// Flow control: HTTP/2's own, per stream and per connection. Each end advertises a stream
/// window of ``streamWindowSize`` bytes and reads a stream only while whatever it copies the
/// bytes into can take them, so a stuck pump closes only its own stream's window.
public enum RelayWireFormat {
    public static let path = "/medtunnel/v1/pump-link"
    public static let method = "POST"
    public static let contentType = "application/octet-stream"

    /// The per-stream receive window each end advertises (and keeps refilled while it reads).
    public static let streamWindowSize = 64 * 1024
    /// The connection-wide receive window: room for every stream's window to be in flight for
    /// a few dozen pumps at once.
    public static let connectionWindowSize = 2 * 1024 * 1024
    /// The largest DATA frame payload (the HTTP/2 minimum, which fits a full TLS record).
    public static let maximumFrameSize = 16_384
    /// How many pump links one phone may carry at once; the gateway refuses more streams.
    public static let maximumStreamsPerPhone = 256
    /// Bytes written to one stream and not yet sent (the peer's window is shut) beyond which
    /// ``RelayStreamHandler`` closes the stream: writers that ignore writability (the inner
    /// TLS session on the gateway) cannot make an end buffer without bound.
    public static let maximumPendingBytesPerStream = 256 * 1024
    /// How long an end that sent END_STREAM waits for the peer's before it resets the stream.
    /// Resets are for failures: HTTP/2 implementations count them against a rate limit (this
    /// one: 200 per 30 s, then the connection goes), so ending every link with one would cost
    /// a busy phone its uplink.
    public static let streamEndTimeout = TimeAmount.seconds(5)
    /// Outbound bytes a stream channel holds before it reports itself not writable.
    public static let streamOutboundHighWatermark = 16 * 1024
    public static let streamOutboundLowWatermark = 8 * 1024

    /// The settings the gateway sends.
    public static var gatewaySettings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: Self.maximumStreamsPerPhone),
            HTTP2Setting(parameter: .initialWindowSize, value: Self.streamWindowSize),
            HTTP2Setting(parameter: .maxFrameSize, value: Self.maximumFrameSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 4_096),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
    }

    /// The settings the relay sends: the gateway never opens streams towards it.
    public static var relaySettings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: Self.streamWindowSize),
            HTTP2Setting(parameter: .maxFrameSize, value: Self.maximumFrameSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 4_096),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
    }

    public static func connectionConfiguration(gateway: Bool) -> NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = gateway ? Self.gatewaySettings : Self.relaySettings
        configuration.targetWindowSize = Self.connectionWindowSize
        return configuration
    }

    public static var streamConfiguration: NIOHTTP2Handler.StreamConfiguration {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = Self.streamWindowSize
        configuration.outboundBufferSizeHighWatermark = Self.streamOutboundHighWatermark
        configuration.outboundBufferSizeLowWatermark = Self.streamOutboundLowWatermark
        return configuration
    }

    /// The request that opens a pump link.
    public static func request(authority: String) -> HPACKHeaders {
        [
            ":method": Self.method,
            ":scheme": "https",
            ":authority": authority,
            ":path": Self.path,
            "content-type": Self.contentType,
        ]
    }

    public static let accepted: HPACKHeaders = [":status": "200"]
    public static let notFound: HPACKHeaders = [":status": "404"]

    /// Nil when `headers` open a pump link, else why not.
    public static func requestProblem(_ headers: HPACKHeaders) -> String? {
        guard headers.first(name: ":method") == Self.method else {
            return "method '\(headers.first(name: ":method") ?? "")' is not \(Self.method)"
        }
        guard headers.first(name: ":path") == Self.path else {
            return "path '\(headers.first(name: ":path") ?? "")' is not \(Self.path)"
        }
        return nil
    }

    /// Puts HTTP/2 with the relay format's settings at the end of an uplink's pipeline (above
    /// its outer TLS, once established): the gateway as `.server`, the relay as `.client`.
    /// `inboundStream` sets up each stream the peer opens.
    public static func configureHTTP2(
        on pipeline: ChannelPipeline.SynchronousOperations,
        mode: NIOHTTP2Handler.ParserMode,
        inboundStream: @escaping NIOChannelInitializer
    ) throws -> NIOHTTP2Handler.StreamMultiplexer {
        try pipeline.configureHTTP2Pipeline(
            mode: mode,
            connectionConfiguration: Self.connectionConfiguration(gateway: mode == .server),
            streamConfiguration: Self.streamConfiguration,
            position: .last,
            inboundStreamInitializer: inboundStream
        )
    }
}
