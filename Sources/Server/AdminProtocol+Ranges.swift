public import Base

extension AdminProtocol {
    /// One range as a node's replica sees it, as reported by `.ranges` (`flotctl range list`).
    /// `liveKeys`/`liveBytes` count the range's current keys and their key+value bytes at the
    /// replica's applied state (not the file's size on disk).
    public struct RangeInfo: Sendable, Equatable {
        public var rangeID: RangeID
        public var startKey: [UInt8]
        /// Exclusive; nil is the end of the keyspace.
        public var endKey: [UInt8]?
        public var replicas: [NodeID]
        /// The node this replica believes leads the range (`.none` when unknown).
        public var leader: NodeID
        /// Whether the answering node leads it.
        public var isLeader: Bool
        public var appliedIndex: UInt64
        public var liveKeys: UInt64
        public var liveBytes: UInt64

        public init(rangeID: RangeID, startKey: [UInt8], endKey: [UInt8]?, replicas: [NodeID], leader: NodeID,
                    isLeader: Bool, appliedIndex: UInt64, liveKeys: UInt64, liveBytes: UInt64) {
            self.rangeID = rangeID
            self.startKey = startKey
            self.endKey = endKey
            self.replicas = replicas
            self.leader = leader
            self.isLeader = isLeader
            self.appliedIndex = appliedIndex
            self.liveKeys = liveKeys
            self.liveBytes = liveBytes
        }
    }

    public static func encode(ranges: [RangeInfo]) -> [UInt8] {
        var w = BinaryWriter(capacity: ranges.count * 96)
        for i in ranges {
            w.write(i.rangeID.rawValue)
            w.writeLengthPrefixed(i.startKey)
            w.write(UInt8(i.endKey == nil ? 0 : 1))
            w.writeLengthPrefixed(i.endKey ?? [])
            w.write(UInt32(i.replicas.count))
            for n in i.replicas { w.write(n.rawValue) }
            w.write(i.leader.rawValue)
            w.write(UInt8(i.isLeader ? 1 : 0))
            w.write(i.appliedIndex)
            w.write(i.liveKeys)
            w.write(i.liveBytes)
        }
        return w.bytes
    }

    public static func decodeRanges(_ bytes: [UInt8]) throws(DecodingError) -> [RangeInfo] {
        try read(bytes) { (r: inout BinaryReader) throws(DecodingError) -> [RangeInfo] in
            var out: [RangeInfo] = []
            while r.remaining > 0 {
                let id = RangeID(try r.read(UInt64.self))
                let start = try r.readLengthPrefixed()
                let hasEnd = try r.read(UInt8.self) != 0
                let end = try r.readLengthPrefixed()
                let n = Int(try r.read(UInt32.self))
                guard n <= r.remaining / 8 else { throw DecodingError("replica count \(n) too large", offset: 0) }
                var replicas: [NodeID] = []
                for _ in 0..<n { replicas.append(NodeID(try r.read(UInt64.self))) }
                let leader = NodeID(try r.read(UInt64.self))
                let isLeader = try r.read(UInt8.self) != 0
                out.append(RangeInfo(
                    rangeID: id, startKey: start, endKey: hasEnd ? end : nil, replicas: replicas, leader: leader,
                    isLeader: isLeader, appliedIndex: try r.read(UInt64.self), liveKeys: try r.read(UInt64.self),
                    liveBytes: try r.read(UInt64.self)))
            }
            return out
        }
    }
}
