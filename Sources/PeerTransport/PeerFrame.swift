public import Base
public import Node

/// Framing of one message on the Raft stream: `[u64 LE from-node]` followed by the
/// `MessageCodec` batch. Pure; owns nothing. (Carried as opaque bytes until the protobuf
/// `RaftMessageBatch` has a quiesce flag; see the server report / proto-requests.md.)
public enum PeerFrame {
    public static func encode(from node: NodeID, batch: [RangeMessage]) -> [UInt8] {
        var out: [UInt8] = []
        let body = MessageCodec.encode(batch: batch)
        out.reserveCapacity(8 + body.count)
        var v = node.rawValue.littleEndian
        withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
        out.append(contentsOf: body)
        return out
    }

    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func decode(_ bytes: [UInt8]) throws -> (from: NodeID, batch: [RangeMessage]) {
        guard bytes.count >= 8 else { throw Malformed(description: "raft frame of \(bytes.count) bytes") }
        var raw: UInt64 = 0
        for i in 0..<8 { raw |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        let batch = try MessageCodec.decodeBatch(Array(bytes[8...]))
        return (NodeID(raw), batch)
    }
}
