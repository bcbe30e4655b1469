public import NIOCore

/// The relay's memory bounds, per pump link and direction. The relay reads from one side only
/// while the other side can take the bytes (its channel is writable, and one more read of
/// ``linkReadSize`` fits under ``maximumQueuedBytes``), so in steady state it holds at most:
///
/// | direction        | held by the relay                                                        |
/// |------------------|--------------------------------------------------------------------------|
/// | pump → gateway   | one link read (``linkReadSize``) + the stream's outbound buffer up to its |
/// |                  | high watermark (16 KiB) and what waits for the gateway's stream window   |
/// | gateway → pump   | the relay's stream window (64 KiB, the gateway cannot send more) + the   |
/// |                  | link's write buffer up to ``linkWriteHighWatermark``                     |
///
/// ``maximumQueuedBytes`` is the hard cap on bytes written into one side and not yet gone: a
/// link that exceeds it is dropped (counted as `buffer_full`), never buffered further.
public enum RelayLimits {
    /// The most bytes read from a pump link at once. (Reads start small and grow only while
    /// they come back full: a busy link moves 64 KiB per wake-up, in four full DATA frames and
    /// TLS records; a quiet one keeps a small buffer.)
    public static let linkReadSize = 64 * 1024
    /// A pump link stops taking bytes from its stream above this many unsent bytes.
    public static let linkWriteHighWatermark = 64 * 1024
    public static let linkWriteLowWatermark = 16 * 1024
    /// Hard cap per link and direction, on bytes written and not yet sent.
    public static let maximumQueuedBytes = 192 * 1024
    /// After its stream ended, how long a pump link may take to receive the gateway's last
    /// bytes and close its end, its further bytes read and discarded meanwhile; then it is
    /// closed.
    public static let linkLingerTime = TimeAmount.seconds(2)
}
