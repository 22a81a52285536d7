/// Splits the server-to-client HTTP/2 byte stream of a plaintext connection into the bytes
/// to pass on unchanged and the PING frames (without the ACK flag) to answer locally.
///
/// Why: grpc-go servers (etcd 3.4) send a BDP-estimation PING about once per round trip
/// while requests flow. swift-nio-http2's denial-of-service heuristics (used unchanged by
/// grpc-swift-nio-transport's client) allow 200 PING/SETTINGS frames per 30 s and then
/// close the connection with GOAWAY ENHANCE_YOUR_CALM: under load a connection to etcd
/// died within ~5 s and every call on it failed ("Stream unexpectedly closed"). Answering
/// those PINGs below the HTTP/2 handler keeps them out of that count; the server still gets
/// its ACK. Pure state machine over byte offsets; owns only the partial frame header.
struct PingScanner: Sendable {
    /// What to do with the bytes of one read, in order.
    enum Piece: Equatable, Sendable {
        /// Pass `count` bytes starting at the read's `offset` (into the carried-over bytes
        /// first, see `scan`) to the HTTP/2 handler unchanged.
        case forward(offset: Int, count: Int)
        /// Answer a PING with this 8-byte opaque payload (write a PING ACK).
        case ack([UInt8])
    }

    static let frameHeaderSize = 9
    static let pingType: UInt8 = 6
    static let ackFlag: UInt8 = 1

    /// Bytes of a non-PING frame still to pass on before the next frame header.
    private var passThrough = 0

    /// Scans `bytes` (the carried-over partial header, if any, followed by the new read)
    /// and returns the pieces plus how many trailing bytes form an incomplete header or
    /// PING frame that the caller must keep and prepend to the next read.
    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> (pieces: [Piece], carry: Int) {
        var pieces: [Piece] = []
        var i = 0
        var forwardStart = 0
        func flushForward(upTo end: Int) {
            if end > forwardStart { pieces.append(.forward(offset: forwardStart, count: end - forwardStart)) }
        }
        while i < bytes.count {
            if passThrough > 0 {
                let n = min(passThrough, bytes.count - i)
                passThrough -= n
                i += n
                continue
            }
            guard bytes.count - i >= Self.frameHeaderSize else { break }
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let type = bytes[i + 3]
            let flags = bytes[i + 4]
            let streamZero = bytes[i + 5] & 0x7f == 0 && bytes[i + 6] == 0 && bytes[i + 7] == 0 && bytes[i + 8] == 0
            if type == Self.pingType, flags & Self.ackFlag == 0, length == 8, streamZero {
                guard bytes.count - i >= Self.frameHeaderSize + 8 else { break }
                flushForward(upTo: i)
                pieces.append(.ack(Array(bytes[(i + 9)..<(i + 17)])))
                i += Self.frameHeaderSize + 8
                forwardStart = i
                continue
            }
            // Any other frame (malformed PINGs included: the HTTP/2 handler reports them).
            passThrough = Self.frameHeaderSize + length
        }
        flushForward(upTo: i)
        return (pieces, bytes.count - i)
    }

    /// The PING ACK frame for `payload` (8 bytes).
    static func ackFrame(_ payload: [UInt8]) -> [UInt8] {
        [0, 0, 8, pingType, ackFlag, 0, 0, 0, 0] + payload
    }
}
