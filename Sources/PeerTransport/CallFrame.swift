public import Base

/// Framing of the node call stream (`flotilla.peer.RawPeer/Call`). One gRPC message
/// carries several calls or answers, coalesced by the writer:
/// - client → server: `[u64 from-node][u32 count]` then per call `[u64 callID][u32 length][bytes]`;
///   a message with no calls opens the stream (the sender's hello);
/// - server → client: `[u32 count]` then per answer `[u64 callID][u32 length][bytes]`.
/// Little-endian. The bytes are `NodeCall` / `NodeCallAnswer` encodings (or node-core
/// calls), opaque here. Pure; owns nothing.
public enum CallFrame {
    /// One call or answer in a frame.
    public struct Item: Sendable, Equatable {
        public var callID: UInt64
        public var bytes: [UInt8]
        public init(callID: UInt64, bytes: [UInt8]) {
            self.callID = callID
            self.bytes = bytes
        }
    }

    /// A message is closed once it holds this many payload bytes (a bigger single item
    /// still travels alone).
    public static let targetMessageBytes = 1 << 20

    public static func encodeCalls(from node: NodeID, _ items: some Collection<Item>) -> [UInt8] {
        var w = BinaryWriter(capacity: 12 + items.reduce(0) { $0 + 12 + $1.bytes.count })
        w.write(node.rawValue)
        w.write(UInt32(items.count))
        for item in items { write(item, &w) }
        return w.bytes
    }

    public static func encodeAnswers(_ items: some Collection<Item>) -> [UInt8] {
        var w = BinaryWriter(capacity: 4 + items.reduce(0) { $0 + 12 + $1.bytes.count })
        w.write(UInt32(items.count))
        for item in items { write(item, &w) }
        return w.bytes
    }

    /// Splits `items` into runs of about `targetMessageBytes` each (order kept).
    public static func chunks(_ items: [Item], targetBytes: Int = targetMessageBytes) -> [ArraySlice<Item>] {
        var out: [ArraySlice<Item>] = []
        var start = 0
        var bytes = 0
        for (i, item) in items.enumerated() {
            if bytes > 0 && bytes + item.bytes.count > targetBytes {
                out.append(items[start..<i])
                start = i
                bytes = 0
            }
            bytes += item.bytes.count + 12
        }
        if start < items.count { out.append(items[start...]) }
        return out
    }

    public static func decodeCalls(_ bytes: [UInt8]) throws(DecodingError) -> (from: NodeID, items: [Item]) {
        try decode(bytes) { (r: inout BinaryReader) throws(DecodingError) in
            let from = NodeID(try r.read(UInt64.self))
            return (from, try readItems(&r))
        }
    }

    public static func decodeAnswers(_ bytes: [UInt8]) throws(DecodingError) -> [Item] {
        try decode(bytes) { (r: inout BinaryReader) throws(DecodingError) in try readItems(&r) }
    }

    static func write(_ item: Item, _ w: inout BinaryWriter) {
        w.write(item.callID)
        w.writeLengthPrefixed(item.bytes)
    }

    static func readItems(_ r: inout BinaryReader) throws(DecodingError) -> [Item] {
        let n = Int(try r.read(UInt32.self))
        guard n <= r.remaining / 12 else { throw DecodingError("call count \(n) too large", offset: r.offset - 4) }
        var items: [Item] = []
        items.reserveCapacity(n)
        for _ in 0..<n {
            let id = try r.read(UInt64.self)
            items.append(Item(callID: id, bytes: try r.readLengthPrefixed()))
        }
        return items
    }

    static func decode<T>(_ bytes: [UInt8], _ body: (inout BinaryReader) throws(DecodingError) -> T) throws(DecodingError) -> T {
        let result: Result<T, DecodingError> = bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            do throws(DecodingError) {
                let value = try body(&r)
                guard r.isAtEnd else { throw DecodingError("trailing bytes in call frame", offset: r.offset) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
