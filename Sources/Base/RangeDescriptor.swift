/// The routing and membership record of one range: which keys it holds (`[startKey,
/// endKey)`, `endKey == nil` meaning the end of the keyspace), which replicas serve it, and
/// the epoch that changes whenever either of those does. Owns nothing else; requests carry
/// the epoch they routed on and a mismatch is rejected with the current descriptor.
public struct RangeDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The epoch of a descriptor: `confVersion` grows on membership changes, `version` on
    /// split and merge.
    public struct Epoch: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var confVersion: UInt64
        public var version: UInt64
        public init(confVersion: UInt64 = 1, version: UInt64 = 1) {
            self.confVersion = confVersion
            self.version = version
        }
        public static func < (a: Epoch, b: Epoch) -> Bool {
            (a.version, a.confVersion) < (b.version, b.confVersion)
        }
        public var description: String { "v\(version)/c\(confVersion)" }
    }

    /// A replica's role in the Raft group.
    public enum Role: UInt8, Sendable, Hashable {
        case voter = 0
        case learner = 1
    }

    /// One replica of the range: the node it lives on and its Raft identity.
    public struct Replica: Sendable, Hashable {
        public var nodeID: NodeID
        public var replicaID: ReplicaID
        public var role: Role
        public init(nodeID: NodeID, replicaID: ReplicaID, role: Role = .voter) {
            self.nodeID = nodeID
            self.replicaID = replicaID
            self.role = role
        }
    }

    public var rangeID: RangeID
    public var startKey: [UInt8]
    /// Exclusive end; nil is the end of the keyspace.
    public var endKey: [UInt8]?
    public var epoch: Epoch
    public var replicas: [Replica]

    public init(rangeID: RangeID, startKey: [UInt8], endKey: [UInt8]?, epoch: Epoch = Epoch(),
                replicas: [Replica]) {
        self.rangeID = rangeID
        self.startKey = startKey
        self.endKey = endKey
        self.epoch = epoch
        self.replicas = replicas
    }

    /// Whether `key` lies in `[startKey, endKey)`.
    public func contains(_ key: [UInt8]) -> Bool {
        guard !key.lexicographicallyPrecedes(startKey) else { return false }
        guard let endKey else { return true }
        return key.lexicographicallyPrecedes(endKey)
    }

    /// The replica on `node`, if the range has one there.
    public func replica(on node: NodeID) -> Replica? { replicas.first { $0.nodeID == node } }

    /// The replica with Raft identity `id`.
    public func replica(withID id: ReplicaID) -> Replica? { replicas.first { $0.replicaID == id } }

    public var voters: [ReplicaID] { replicas.filter { $0.role == .voter }.map(\.replicaID) }
    public var learners: [ReplicaID] { replicas.filter { $0.role == .learner }.map(\.replicaID) }

    public var description: String {
        let end = endKey.map { "\($0)" } ?? "∞"
        return "\(rangeID)[\(startKey), \(end)) \(epoch) \(replicas.map { "\($0.nodeID)/\($0.replicaID)" })"
    }
}

// MARK: - Codec

extension RangeDescriptor {
    /// Format version written first, so the layout can evolve.
    static let codecVersion: UInt8 = 1

    /// Appends the binary form: `[u8 version][u64 rangeID][bytes start][u8 hasEnd][bytes end]
    /// [u64 confVersion][u64 version][u32 n] n × [u64 nodeID][u64 replicaID][u8 role]`.
    public func encode(into writer: inout BinaryWriter) {
        writer.write(Self.codecVersion)
        writer.write(rangeID.rawValue)
        writer.writeLengthPrefixed(startKey)
        writer.write(UInt8(endKey == nil ? 0 : 1))
        if let endKey { writer.writeLengthPrefixed(endKey) }
        writer.write(epoch.confVersion)
        writer.write(epoch.version)
        writer.write(UInt32(replicas.count))
        for r in replicas {
            writer.write(r.nodeID.rawValue)
            writer.write(r.replicaID)
            writer.write(r.role.rawValue)
        }
    }

    /// The binary form as a fresh array.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + startKey.count + (endKey?.count ?? 0) + 17 * replicas.count)
        encode(into: &w)
        return w.bytes
    }

    /// Reads one descriptor written by `encode(into:)`.
    public static func decode(from reader: inout BinaryReader) throws(DecodingError) -> RangeDescriptor {
        let version = try reader.read(UInt8.self)
        guard version == codecVersion else {
            throw DecodingError("unknown range descriptor version \(version)", offset: reader.offset - 1)
        }
        let rangeID = RangeID(try reader.read(UInt64.self))
        let start = try reader.readLengthPrefixed()
        let hasEnd = try reader.read(UInt8.self)
        guard hasEnd <= 1 else { throw DecodingError("bad end-key flag \(hasEnd)", offset: reader.offset - 1) }
        let end = hasEnd == 1 ? try reader.readLengthPrefixed() : nil
        let epoch = Epoch(confVersion: try reader.read(), version: try reader.read())
        let count = Int(try reader.read(UInt32.self))
        guard count <= reader.remaining / 17 else {
            throw DecodingError("replica count \(count) too large", offset: reader.offset - 4)
        }
        var replicas: [Replica] = []
        replicas.reserveCapacity(count)
        for _ in 0..<count {
            let node = NodeID(try reader.read(UInt64.self))
            let id = try reader.read(UInt64.self)
            let rawRole = try reader.read(UInt8.self)
            guard let role = Role(rawValue: rawRole) else {
                throw DecodingError("unknown replica role \(rawRole)", offset: reader.offset - 1)
            }
            replicas.append(Replica(nodeID: node, replicaID: id, role: role))
        }
        return RangeDescriptor(rangeID: rangeID, startKey: start, endKey: end, epoch: epoch, replicas: replicas)
    }

    /// Decodes a whole buffer holding exactly one descriptor.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> RangeDescriptor {
        let result: Result<RangeDescriptor, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let d = try decode(from: &reader)
                guard reader.isAtEnd else { throw DecodingError("trailing bytes after descriptor", offset: reader.offset) }
                return .success(d)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
