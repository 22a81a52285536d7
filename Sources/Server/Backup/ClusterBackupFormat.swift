public import Base
public import MVCC

/// The content of a Flotilla cluster backup (`flotctl snapshot save`, Maintenance.Snapshot):
/// the whole cluster's key-value state at ONE cluster revision R, the range layout and the
/// leases. All integers little-endian; `bytes` = u32 length + bytes.
///
/// ```
/// header  "FLOTBKUP" u16 version(1) i64 revision R u64 clusterID i64 createdUnixMs
/// frames  [u8 kind][u32 payload length][payload]   (a reader skips unknown kinds)
///   0x01 range   u64 rangeID u64 confVersion u64 version bytes start u8 hasEnd bytes end
///                u32 n, n × (u64 nodeID u64 replicaID u8 role: 0 voter, 1 learner)
///   0x02 kvs     u64 rangeID u32 n, n × (bytes key i64 createRevision i64 modRevision
///                i64 version i64 lease bytes value)    keys increasing within a range
///   0x03 leases  u32 n, n × (i64 id i64 grantedTTLSeconds)
///   0x7F end     u32 ranges u64 keys u32 leases u64 bytes of content before this frame
/// ```
/// Every range frame comes before any kvs frame; ranges in key order tile the keyspace.
/// On the wire and on disk the content is followed by zero padding to a multiple of 512
/// bytes and the SHA-256 of everything before it (etcd's snapshot framing, which
/// `etcdctl snapshot save` checks). Pure encoding; owns nothing.
public enum ClusterBackup {
    public static let magic = Array("FLOTBKUP".utf8)
    public static let version: UInt16 = 1
    /// Bytes of the header.
    public static let headerBytes = 8 + 2 + 8 + 8 + 8

    /// What the header says.
    public struct Header: Sendable, Equatable {
        public var revision: Int64
        public var clusterID: UInt64
        public var createdUnixMs: Int64

        public init(revision: Int64, clusterID: UInt64, createdUnixMs: Int64) {
            self.revision = revision
            self.clusterID = clusterID
            self.createdUnixMs = createdUnixMs
        }
    }

    /// The end frame's totals (a reader checks them against what it read).
    public struct Summary: Sendable, Equatable {
        public var ranges: UInt32
        public var keys: UInt64
        public var leases: UInt32
        public var contentBytes: UInt64

        public init(ranges: UInt32 = 0, keys: UInt64 = 0, leases: UInt32 = 0, contentBytes: UInt64 = 0) {
            self.ranges = ranges
            self.keys = keys
            self.leases = leases
            self.contentBytes = contentBytes
        }
    }

    /// One lease: ID and granted TTL in seconds.
    public struct Lease: Sendable, Equatable {
        public var id: Int64
        public var ttl: Int64
        public init(id: Int64, ttl: Int64) {
            self.id = id
            self.ttl = ttl
        }
    }

    /// One frame.
    public enum Frame: Sendable, Equatable {
        case range(RangeDescriptor)
        case kvs(RangeID, [KeyValue])
        case leases([Lease])
        case end(Summary)
    }

    enum Kind: UInt8 {
        case range = 0x01, kvs = 0x02, leases = 0x03, end = 0x7F
    }

    // MARK: encoding

    public static func encode(_ h: Header) -> [UInt8] {
        var w = BinaryWriter(capacity: headerBytes)
        w.write(bytes: magic)
        w.write(version)
        w.write(h.revision)
        w.write(h.clusterID)
        w.write(h.createdUnixMs)
        return w.bytes
    }

    public static func encode(_ frame: Frame) -> [UInt8] {
        var p = BinaryWriter()
        let kind: Kind
        switch frame {
        case .range(let d):
            kind = .range
            p.write(d.rangeID.rawValue)
            p.write(d.epoch.confVersion)
            p.write(d.epoch.version)
            p.writeLengthPrefixed(d.startKey)
            p.write(UInt8(d.endKey == nil ? 0 : 1))
            p.writeLengthPrefixed(d.endKey ?? [])
            p.write(UInt32(d.replicas.count))
            for r in d.replicas {
                p.write(r.nodeID.rawValue)
                p.write(r.replicaID)
                p.write(UInt8(r.role == .learner ? 1 : 0))
            }
        case .kvs(let id, let kvs):
            kind = .kvs
            p.write(id.rawValue)
            p.write(UInt32(kvs.count))
            for kv in kvs {
                p.writeLengthPrefixed(kv.key)
                p.write(kv.createRevision)
                p.write(kv.modRevision)
                p.write(kv.version)
                p.write(kv.lease)
                p.writeLengthPrefixed(kv.value)
            }
        case .leases(let leases):
            kind = .leases
            p.write(UInt32(leases.count))
            for l in leases {
                p.write(l.id)
                p.write(l.ttl)
            }
        case .end(let s):
            kind = .end
            p.write(s.ranges)
            p.write(s.keys)
            p.write(s.leases)
            p.write(s.contentBytes)
        }
        var out = BinaryWriter(capacity: 5 + p.count)
        out.write(kind.rawValue)
        out.write(UInt32(p.count))
        out.write(bytes: p.bytes)
        return out.bytes
    }

    // MARK: decoding

    /// A malformed backup (after its digest checked out: a writer bug or a foreign file).
    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = "snapshot: \(d)" }
    }

    public static func decodeHeader(_ bytes: [UInt8]) throws -> Header {
        guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic else {
            throw FormatError("not a Flotilla cluster backup (no FLOTBKUP header)")
        }
        return try bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw, offset: 8)
            let v = try r.read(UInt16.self)
            guard v == version else { throw FormatError("unknown backup version \(v)") }
            return Header(revision: try r.read(), clusterID: try r.read(), createdUnixMs: try r.read())
        }
    }

    /// Decodes one frame's payload; nil for a kind this version does not know.
    public static func decodeFrame(kind: UInt8, payload: [UInt8]) throws -> Frame? {
        guard let k = Kind(rawValue: kind) else { return nil }
        return try payload.withUnsafeBytes { raw throws -> Frame in
            var r = BinaryReader(raw)
            let frame: Frame
            switch k {
            case .range:
                let id = RangeID(try r.read(UInt64.self))
                let epoch = RangeDescriptor.Epoch(confVersion: try r.read(), version: try r.read())
                let start = try r.readLengthPrefixed()
                let hasEnd = try r.read(UInt8.self)
                let end = try r.readLengthPrefixed()
                let n = Int(try r.read(UInt32.self))
                guard n <= r.remaining / 17 else { throw FormatError("range \(id.rawValue): bad replica count \(n)") }
                var replicas: [RangeDescriptor.Replica] = []
                for _ in 0..<n {
                    let node = NodeID(try r.read(UInt64.self))
                    let replica: ReplicaID = try r.read(UInt64.self)
                    let role: RangeDescriptor.Role = try r.read(UInt8.self) == 1 ? .learner : .voter
                    replicas.append(.init(nodeID: node, replicaID: replica, role: role))
                }
                frame = .range(RangeDescriptor(rangeID: id, startKey: start, endKey: hasEnd == 0 ? nil : end,
                                               epoch: epoch, replicas: replicas))
            case .kvs:
                let id = RangeID(try r.read(UInt64.self))
                let n = Int(try r.read(UInt32.self))
                guard n <= r.remaining / 40 else { throw FormatError("range \(id.rawValue): bad key count \(n)") }
                var kvs: [KeyValue] = []
                kvs.reserveCapacity(n)
                for _ in 0..<n {
                    let key = try r.readLengthPrefixed()
                    let create = try r.read(Int64.self)
                    let mod = try r.read(Int64.self)
                    let version = try r.read(Int64.self)
                    let lease = try r.read(Int64.self)
                    let value = try r.readLengthPrefixed()
                    kvs.append(KeyValue(key: key, createRevision: create, modRevision: mod, version: version,
                                        value: value, lease: lease))
                }
                frame = .kvs(id, kvs)
            case .leases:
                let n = Int(try r.read(UInt32.self))
                guard n <= r.remaining / 16 else { throw FormatError("bad lease count \(n)") }
                var leases: [Lease] = []
                for _ in 0..<n { leases.append(Lease(id: try r.read(), ttl: try r.read())) }
                frame = .leases(leases)
            case .end:
                frame = .end(Summary(ranges: try r.read(), keys: try r.read(), leases: try r.read(),
                                     contentBytes: try r.read()))
            }
            guard r.isAtEnd else { throw FormatError("frame 0x\(String(kind, radix: 16)) has \(r.remaining) trailing bytes") }
            return frame
        }
    }
}
