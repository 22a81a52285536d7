public import Base
public import GRPCCore

/// The internal Admin protocol on the client port (until the etcd API of issue #5): ONE
/// bidirectional stream per client connection carrying batches of requests and batches of
/// replies, as opaque frames (no protobuf, no unary call per request). Requests name a key;
/// the node routes it to the range holding it and answers `notLeader` with a hint when
/// this node does not lead that range (the client retries there). Pure codec; owns nothing.
public enum AdminProtocol {
    public static let propose = MethodDescriptor(fullyQualifiedService: "flotilla.admin.Admin", method: "Batch")

    public enum Op: UInt8, Sendable {
        /// Put key=value through Raft on the range's leader.
        case put = 1
        /// Read the key from THIS node's replica (no leadership check; for tests/checks).
        case getLocal = 2
        /// This node's ranges: leader, applied index (`AdminProtocol.RangeStatus`).
        case status = 3
        /// Hand leadership of range `number(key)` to node `number(value)` (both u64
        /// little-endian); send it to the range's leader. Answers at once (`ok`); the
        /// transfer completes within an election timeout or not at all.
        case transferLeader = 4
        /// Read-only: every range this node holds a replica of, with span, replicas,
        /// leader, live keys and bytes (`AdminProtocol.RangeInfo`, for `flotctl range list`).
        case ranges = 5
    }

    public struct Request: Sendable, Equatable {
        public var id: UInt64
        public var op: Op
        public var key: [UInt8]
        public var value: [UInt8]
        public init(id: UInt64, op: Op, key: [UInt8] = [], value: [UInt8] = []) {
            self.id = id
            self.op = op
            self.key = key
            self.value = value
        }
    }

    public enum Code: UInt8, Sendable {
        case ok = 0
        /// `number` is the node believed to lead (0: unknown).
        case notLeader = 1
        case rangeNotFound = 2
        /// `payload` is the error text.
        case failed = 3
        case notFound = 4
        /// The outcome is unknown (proposal timeout or dropped after append).
        case unknownOutcome = 5
    }

    public struct Reply: Sendable, Equatable {
        public var id: UInt64
        public var code: Code
        /// put: the revision; getLocal: the mod revision; notLeader: the leader hint node.
        public var number: UInt64
        public var payload: [UInt8]
        public init(id: UInt64, code: Code, number: UInt64 = 0, payload: [UInt8] = []) {
            self.id = id
            self.code = code
            self.number = number
            self.payload = payload
        }
    }

    /// One range of a node, as reported by `.status`.
    public struct RangeStatus: Sendable, Equatable {
        public var rangeID: RangeID
        public var leader: NodeID
        public var appliedIndex: UInt64
        public var isLeader: Bool
        public var quiesced: Bool
    }

    public static func encode(requests: [Request]) -> [UInt8] {
        var w = BinaryWriter(capacity: 8 + requests.count * 48)
        w.write(UInt32(requests.count))
        for r in requests {
            w.write(r.id)
            w.write(r.op.rawValue)
            w.writeLengthPrefixed(r.key)
            w.writeLengthPrefixed(r.value)
        }
        return w.bytes
    }

    public static func decodeRequests(_ bytes: [UInt8]) throws(DecodingError) -> [Request] {
        try read(bytes) { (r: inout BinaryReader) throws(DecodingError) -> [Request] in
            let n = Int(try r.read(UInt32.self))
            guard n <= r.remaining / 17 else { throw DecodingError("request count \(n) too large", offset: 0) }
            var out: [Request] = []
            out.reserveCapacity(n)
            for _ in 0..<n {
                let id = try r.read(UInt64.self)
                let raw = try r.read(UInt8.self)
                guard let op = Op(rawValue: raw) else { throw DecodingError("unknown op \(raw)", offset: 0) }
                out.append(Request(id: id, op: op, key: try r.readLengthPrefixed(), value: try r.readLengthPrefixed()))
            }
            return out
        }
    }

    public static func encode(replies: [Reply]) -> [UInt8] {
        var w = BinaryWriter(capacity: 8 + replies.count * 32)
        w.write(UInt32(replies.count))
        for r in replies {
            w.write(r.id)
            w.write(r.code.rawValue)
            w.write(r.number)
            w.writeLengthPrefixed(r.payload)
        }
        return w.bytes
    }

    public static func decodeReplies(_ bytes: [UInt8]) throws(DecodingError) -> [Reply] {
        try read(bytes) { (r: inout BinaryReader) throws(DecodingError) -> [Reply] in
            let n = Int(try r.read(UInt32.self))
            guard n <= r.remaining / 21 else { throw DecodingError("reply count \(n) too large", offset: 0) }
            var out: [Reply] = []
            out.reserveCapacity(n)
            for _ in 0..<n {
                let id = try r.read(UInt64.self)
                let raw = try r.read(UInt8.self)
                guard let code = Code(rawValue: raw) else { throw DecodingError("unknown code \(raw)", offset: 0) }
                out.append(Reply(id: id, code: code, number: try r.read(UInt64.self), payload: try r.readLengthPrefixed()))
            }
            return out
        }
    }

    public static func encode(status: [RangeStatus]) -> [UInt8] {
        var w = BinaryWriter(capacity: status.count * 26)
        for s in status {
            w.write(s.rangeID.rawValue)
            w.write(s.leader.rawValue)
            w.write(s.appliedIndex)
            w.write(UInt8((s.isLeader ? 1 : 0) | (s.quiesced ? 2 : 0)))
        }
        return w.bytes
    }

    public static func decodeStatus(_ bytes: [UInt8]) throws(DecodingError) -> [RangeStatus] {
        try read(bytes) { (r: inout BinaryReader) throws(DecodingError) -> [RangeStatus] in
            var out: [RangeStatus] = []
            while r.remaining > 0 {
                let range = RangeID(try r.read(UInt64.self))
                let leader = NodeID(try r.read(UInt64.self))
                let applied = try r.read(UInt64.self)
                let flags = try r.read(UInt8.self)
                out.append(RangeStatus(rangeID: range, leader: leader, appliedIndex: applied,
                                       isLeader: flags & 1 != 0, quiesced: flags & 2 != 0))
            }
            return out
        }
    }

    static func read<T>(_ bytes: [UInt8], _ body: (inout BinaryReader) throws(DecodingError) -> T) throws(DecodingError) -> T {
        let r: Result<T, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) { return .success(try body(&reader)) } catch { return .failure(error) }
        }
        return try r.get()
    }
}
