public import API
import Base
import MVCC
import Node

/// Membership (the nodes as etcd members), response identity and a cluster-wide HashKV.
/// Alarms, Status and Snapshot are node-local and live in the server's maintenance
/// backend (`NodeEtcdBackend`), which serves this HashKV.
extension Router: EtcdClusterBackend {
    public func identity() -> ClusterIdentity {
        ClusterIdentity(clusterID: config.clusterID, memberID: memberID, raftTerm: 1)
    }

    public func memberList() async throws -> [MemberInfo] {
        try await access.nodes().sorted { $0.nodeID < $1.nodeID }.map {
            MemberInfo(id: $0.nodeID.rawValue, name: $0.name, peerURLs: $0.peerURLs, clientURLs: $0.clientURLs)
        }
    }
}

extension Router {
    /// A digest of the whole keyspace at one revision (0: fresh): FNV-1a over every live
    /// key-value (key, value, create/mod revision, version, lease) in key order, read with
    /// one merged Range. Deterministic across nodes for the same revision; unlike etcd's it
    /// covers live keys, not the history kept since compaction.
    public func hashKV(revision: Int64) async throws -> HashKVResult {
        let all = try await range(RangeRequest(key: [0], rangeEnd: [0], revision: revision))
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ bytes: [UInt8]) {
            var n = UInt64(bytes.count)
            for _ in 0..<8 {
                h = (h ^ (n & 0xFF)) &* 0x0000_0100_0000_01b3
                n >>= 8
            }
            for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        }
        func add(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { add(Array($0)) } }
        for kv in all.kvs {
            add(kv.key)
            add(kv.value)
            add(kv.createRevision)
            add(kv.modRevision)
            add(kv.version)
            add(kv.lease)
        }
        return HashKVResult(hash: UInt32(truncatingIfNeeded: h ^ (h >> 32)), compactRevision: 0, revision: all.revision)
    }
}
