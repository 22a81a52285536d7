public import Base
import Foundation
import MVCC
import Node

/// `flotctl snapshot restore`: writes one node's data directory of a NEW cluster from a
/// cluster backup file. Run once per member (as `etcdctl snapshot restore`), each with the
/// same `--initial-cluster` and its own `--name` and `--data-dir`.
///
/// The new cluster keeps the backup's ranges (IDs, spans, epochs) and every key-value with
/// its create/mod revision, version and lease; the leases with their granted TTLs; and a
/// revision oracle whose high-water mark is the backup revision R, so every new write gets a
/// revision above R. Every range starts a fresh Raft group (index 0, no log) with the new
/// members as voters: user ranges on every member, the system range on the first three (by
/// node ID), as a bootstrapped cluster. Ranges are compacted at R (history before R is not
/// in the backup). Nothing is written before the file's digest checked out; the directory
/// appears only when complete. Owns nothing.
public enum ClusterRestore {
    /// One member of the new cluster: `node-N` (or `N`) = peer URL.
    public struct Member: Sendable, Equatable {
        public var name: String
        public var nodeID: NodeID
        public var peerURL: String
    }

    /// What was restored.
    public struct Summary: Sendable, Equatable {
        public var revision: Int64
        public var ranges: Int
        public var keys: UInt64
        public var leases: Int
        public var oracleMark: Int64
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// The node ID a member name stands for: `node-7` or `7` is node 7 (Flotilla's members are
    /// named `node-<ID>` in MemberList).
    public static func nodeID(fromName name: String) -> NodeID? {
        let digits = name.hasPrefix("node-") ? String(name.dropFirst(5)) : name
        guard let v = UInt64(digits), v > 0, v <= 65_535 else { return nil }
        return NodeID(v)
    }

    /// Parses etcd's `--initial-cluster` (`name=url,name=url`, a name may repeat with more URLs).
    public static func members(initialCluster: String) throws -> [Member] {
        var out: [Member] = []
        for item in initialCluster.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[1].isEmpty else {
                throw Failure("--initial-cluster: expected name=peerURL, got \"\(item)\"")
            }
            guard let id = nodeID(fromName: parts[0]) else {
                throw Failure("--initial-cluster: member name \"\(parts[0])\" is not node-<ID> or <ID> (ID 1...65535)")
            }
            if let i = out.firstIndex(where: { $0.name == parts[0] }) {
                guard out[i].nodeID == id else { throw Failure("--initial-cluster: \(parts[0]) twice") }
                continue
            }
            guard !out.contains(where: { $0.nodeID == id }) else {
                throw Failure("--initial-cluster: node ID \(id.rawValue) named twice")
            }
            out.append(Member(name: parts[0], nodeID: id, peerURL: parts[1]))
        }
        guard !out.isEmpty else { throw Failure("--initial-cluster is empty") }
        return out.sorted { $0.nodeID < $1.nodeID }
    }

    /// Restores `file` into `dataDir` for member `name` of `initialCluster`;
    /// `advertisePeerURLs` (etcd's --initial-advertise-peer-urls) must be among the member's URLs
    /// when given.
    public static func restore(file: String, dataDir: String, name: String, initialCluster: String,
                               advertisePeerURLs: [String]) throws -> Summary {
        let members = try members(initialCluster: initialCluster)
        guard let me = members.first(where: { $0.name == name }) else {
            throw Failure("--name \(name) is not a member of --initial-cluster (\(members.map(\.name).joined(separator: ", ")))")
        }
        let urls = Set(initialCluster.split(separator: ",").compactMap { item -> String? in
            let p = item.split(separator: "=", maxSplits: 1).map(String.init)
            return p.count == 2 && p[0] == name ? p[1] : nil
        })
        for u in advertisePeerURLs where !urls.contains(u) {
            throw Failure("--initial-advertise-peer-urls \(u) is not \(name)'s URL in --initial-cluster (\(urls.sorted().joined(separator: ",")))")
        }
        let (size, _) = try ClusterBackupFile.verify(file)
        let reader = try ClusterBackupFile.Reader(path: file, size: size)
        let r = reader.header.revision
        let nodes = members.map(\.nodeID)
        let target = try RestoredDataDirectory(path: dataDir, node: me.nodeID)
        do {
            var ranges: [RangeID: RangeDescriptor] = [:]
            var lastKey: [RangeID: [UInt8]] = [:]
            var leases: [ClusterBackup.Lease] = []
            var maxRevision = r
            var sawKVs = false
            while let frame = try reader.next() {
                switch frame {
                case .range(let d):
                    guard !sawKVs else { throw Failure("snapshot: range \(d.rangeID.rawValue) after key-values") }
                    guard d.rangeID != .system, ranges[d.rangeID] == nil else {
                        throw Failure("snapshot: range \(d.rangeID.rawValue) listed twice or reserved")
                    }
                    var restored = d
                    restored.replicas = nodes.map { RangeDescriptor.Replica(nodeID: $0, replicaID: $0.rawValue) }
                    ranges[d.rangeID] = restored
                    try target.createRange(restored, revision: r)
                case .kvs(let id, let kvs):
                    sawKVs = true
                    guard let d = ranges[id] else { throw Failure("snapshot: key-values of unknown range \(id.rawValue)") }
                    for kv in kvs { maxRevision = max(maxRevision, kv.modRevision) }
                    lastKey[id] = try target.append(kvs, to: d, revision: r, after: lastKey[id])
                case .leases(let l):
                    leases += l
                case .end:
                    break
                }
            }
            try checkTiling(Array(ranges.values))
            let config = BootstrapConfig(nodes: nodes, rangeCount: 1)
            try target.writeSystemRange(config.systemDescriptor, oracleMark: maxRevision,
                                        leases: leases.map { (id: $0.id, ttl: $0.ttl) })
            try target.finish()
            return Summary(revision: r, ranges: ranges.count, keys: reader.counted.keys, leases: leases.count,
                           oracleMark: maxRevision)
        } catch {
            target.abandon()
            throw error
        }
    }

    /// The ranges must tile the keyspace, as the backup's routing table did.
    static func checkTiling(_ ranges: [RangeDescriptor]) throws {
        let sorted = ranges.sorted { $0.startKey.lexicographicallyPrecedes($1.startKey) }
        var next: [UInt8]? = []
        for d in sorted {
            guard let expected = next, d.startKey == expected else {
                throw Failure("snapshot: ranges do not tile the keyspace (at range \(d.rangeID.rawValue))")
            }
            next = d.endKey
        }
        guard next == nil, !sorted.isEmpty else { throw Failure("snapshot: ranges do not reach the end of the keyspace") }
    }
}
