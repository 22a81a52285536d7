public import Base
public import NIOCore

/// The wire format of the lean peer port (`LeanPeerTransport`): a TCP byte stream of frames
/// `[u32 LE length][u8 kind][payload]`, where `length` counts the kind byte and the payload.
/// Each connection carries ONE role (Raft batches, node calls, or one snapshot) and opens
/// with a `hello` from each side (the dialer's first, the listener's in reply). Pure value
/// types and functions; owns nothing.
public struct LeanFrame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// `LeanHello`: magic, protocol version, connection role, sender node.
        case hello = 1
        /// A `MessageCodec` batch (empty batch: the node heartbeat).
        case raft = 2
        /// `CallFrame.encodeCalls` bytes (dialer → listener).
        case calls = 3
        /// `CallFrame.encodeAnswers` bytes (listener → dialer).
        case answers = 4
        /// `MessageCodec.encode(header:)` of the snapshot that follows.
        case snapshotHeader = 5
        /// One compressed snapshot chunk.
        case snapshotChunk = 6
        /// No more chunks.
        case snapshotEnd = 7
        /// The receiver's verdict: empty = installed, else the error text.
        case snapshotResult = 8
        /// Liveness probe (either side) and its answer.
        case ping = 9
        case pong = 10
    }

    public var kind: Kind
    public var payload: [UInt8]

    public init(_ kind: Kind, _ payload: [UInt8] = []) {
        self.kind = kind
        self.payload = payload
    }
}

/// Why a byte stream is not a valid lean peer stream.
public enum LeanFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A frame longer than the configured maximum.
    case oversize(length: Int, max: Int)
    /// A length of zero (no kind byte).
    case empty
    case unknownKind(UInt8)
    /// The stream ended inside a frame.
    case truncated(bufferedBytes: Int)
    /// The first frame was not a well-formed hello (another protocol on this port).
    case notLean(String)
    /// The peer speaks another version of the lean protocol.
    case version(UInt16)

    public var description: String {
        switch self {
        case .oversize(let n, let max): "frame of \(n) bytes exceeds the maximum of \(max)"
        case .empty: "frame of length 0"
        case .unknownKind(let k): "unknown frame kind \(k)"
        case .truncated(let n): "stream ended inside a frame (\(n) bytes buffered)"
        case .notLean(let why): "not a lean peer connection: \(why) (all nodes must use the same [peer] transport)"
        case .version(let v): "lean peer protocol version \(v), this node speaks \(LeanHello.version)"
        }
    }
}

/// The first frame on each side of a lean peer connection.
public struct LeanHello: Sendable, Equatable {
    public enum Role: UInt8, Sendable, CaseIterable {
        case raft = 1, call = 2, snapshot = 3
    }
    public static let magic: [UInt8] = Array("FLTP".utf8)
    public static let version: UInt16 = 1
    static let payloadBytes = 4 + 2 + 1 + 8

    public var role: Role
    public var node: NodeID

    public init(role: Role, node: NodeID) {
        self.role = role
        self.node = node
    }

    public var frame: LeanFrame {
        var w = BinaryWriter(capacity: Self.payloadBytes)
        w.write(bytes: Self.magic)
        w.write(Self.version)
        w.write(role.rawValue)
        w.write(node.rawValue)
        return LeanFrame(.hello, w.bytes)
    }

    public init(_ frame: LeanFrame) throws(LeanFrameError) {
        guard frame.kind == .hello, frame.payload.count == Self.payloadBytes,
              Array(frame.payload[0..<4]) == Self.magic
        else { throw .notLean("first frame is not a hello") }
        let p = frame.payload
        let version = UInt16(p[4]) | UInt16(p[5]) << 8
        guard version == Self.version else { throw .version(version) }
        guard let role = Role(rawValue: p[6]) else { throw .notLean("unknown role \(p[6])") }
        var raw: UInt64 = 0
        for i in 0..<8 { raw |= UInt64(p[7 + i]) << (8 * UInt64(i)) }
        self.init(role: role, node: NodeID(raw))
    }
}

/// Writes and parses `LeanFrame`s on `ByteBuffer`s. Pure.
public enum LeanFrameCodec {
    /// The HTTP/2 client preface starts "PRI " (a gRPC peer dialing a lean port).
    static let http2Preface: [UInt8] = Array("PRI ".utf8)

    public static func encode(_ kind: LeanFrame.Kind, _ payload: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(1 + payload.count), endianness: .little)
        buffer.writeInteger(kind.rawValue)
        buffer.writeBytes(payload)
    }

    public static func encode(_ frame: LeanFrame, into buffer: inout ByteBuffer) {
        encode(frame.kind, frame.payload, into: &buffer)
    }

    /// Takes one whole frame off the front of `buffer`; nil (buffer untouched) when it holds
    /// only part of one. `first`: the frame must be a hello (checked as soon as the header
    /// is in, so another protocol is refused before its bytes pile up).
    public static func decode(_ buffer: inout ByteBuffer, maxLength: Int, first: Bool = false) throws(LeanFrameError)
        -> LeanFrame? {
        guard buffer.readableBytes >= 5 else {
            if first, let head = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes),
               head.count >= 4, Array(head.prefix(4)) == http2Preface {
                throw .notLean("HTTP/2 preface received (a gRPC peer transport)")
            }
            return nil
        }
        let length = Int(buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self)!)
        let rawKind = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self)!
        if first {
            if buffer.getBytes(at: buffer.readerIndex, length: 4)! == http2Preface {
                throw .notLean("HTTP/2 preface received (a gRPC peer transport)")
            }
            // An HTTP/2 frame header: 24-bit length, then type 4 (SETTINGS, a server's first frame).
            if buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self) == 4 && rawKind <= 1 {
                throw .notLean("HTTP/2 SETTINGS received (a gRPC peer transport)")
            }
            guard rawKind == LeanFrame.Kind.hello.rawValue, length == 1 + LeanHello.payloadBytes else {
                throw .notLean("first frame has kind \(rawKind) and length \(length), not a hello")
            }
        }
        guard length > 0 else { throw .empty }
        guard length <= maxLength else { throw .oversize(length: length, max: maxLength) }
        guard let kind = LeanFrame.Kind(rawValue: rawKind) else { throw .unknownKind(rawKind) }
        guard buffer.readableBytes >= 4 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let payload = buffer.readBytes(length: length - 1)!
        return LeanFrame(kind, payload)
    }
}
