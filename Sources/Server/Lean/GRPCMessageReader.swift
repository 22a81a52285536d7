import NIOCore

/// The gRPC length-prefixed message format on one stream: 1 flag byte (0 = uncompressed),
/// a 4-byte big-endian length, then the message bytes. The reader owns the DATA bytes of one
/// request stream that do not yet form a whole message and yields whole messages; `write`
/// frames one message. Pure value type: no I/O, no NIO channel.
struct GRPCMessageReader {
    /// Why the bytes on a stream are not an acceptable gRPC message sequence.
    enum Failure: Error, Equatable {
        /// The compressed flag is set (the lean path never negotiates compression) or the
        /// flag byte is not 0 or 1.
        case compressed(flag: UInt8)
        /// The declared length exceeds the limit (gRPC's RESOURCE_EXHAUSTED).
        case tooLarge(length: Int, limit: Int)
    }

    let maxMessageBytes: Int
    private var buffer = ByteBuffer()

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes buffered that do not yet form a whole message.
    var bufferedBytes: Int { buffer.readableBytes }

    mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = bytes  // the common case: a whole message in one DATA frame, no copy
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// The next whole message, nil when more bytes are needed. A failure is final for the stream.
    mutating func next() throws -> ByteBuffer? {
        guard buffer.readableBytes >= 5,
              let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length32 = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        guard flag == 0 else { throw Failure.compressed(flag: flag) }
        let length = Int(length32)
        guard length <= maxMessageBytes else { throw Failure.tooLarge(length: length, limit: maxMessageBytes) }
        guard buffer.readableBytes >= 5 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        return buffer.readSlice(length: length)
    }

    /// Appends one uncompressed length-prefixed message to `out`.
    static func write(_ message: ByteBuffer, into out: inout ByteBuffer) {
        out.writeInteger(UInt8(0))
        out.writeInteger(UInt32(message.readableBytes))
        var message = message
        out.writeBuffer(&message)
    }
}

/// gRPC's `grpc-timeout` header value: 1–8 ASCII digits and a unit (H M S m u n).
enum GRPCTimeout {
    /// The timeout in nanoseconds, nil when the value is malformed.
    static func parse<S: StringProtocol>(_ value: S) -> Int64? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9 else { return nil }
        var amount: Int64 = 0
        for byte in utf8.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        let perUnit: Int64
        switch utf8.last! {
        case UInt8(ascii: "H"): perUnit = 3_600_000_000_000
        case UInt8(ascii: "M"): perUnit = 60_000_000_000
        case UInt8(ascii: "S"): perUnit = 1_000_000_000
        case UInt8(ascii: "m"): perUnit = 1_000_000
        case UInt8(ascii: "u"): perUnit = 1_000
        case UInt8(ascii: "n"): perUnit = 1
        default: return nil
        }
        let (product, overflow) = amount.multipliedReportingOverflow(by: perUnit)
        return overflow ? Int64.max : product
    }
}

/// Percent-encoding of `grpc-message` (gRPC's HTTP/2 protocol: bytes outside 0x20–0x7E and
/// '%' itself are written as %XX of their UTF-8 bytes).
enum GRPCStatusMessage {
    static func percentEncoded(_ message: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(message.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
