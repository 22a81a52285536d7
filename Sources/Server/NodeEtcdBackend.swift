public import API
public import Base
import Foundation
import MVCC
public import Node
import Synchronization

/// etcd's Cluster and Maintenance services for one node: identity for response headers,
/// the member list (nodes as members), status, alarms (NOSPACE quota), HashKV over the
/// cluster and the cluster backup stream. Owns the alarm set and the cached Raft
/// term headers report (refreshed by `refresh()`, which the server calls periodically, so
/// `identity()` never waits for the poll loop).
public final class NodeEtcdBackend: EtcdClusterBackend, EtcdMaintenanceBackend, Sendable {
    /// One member as configured.
    public struct Member: Sendable, Equatable {
        public var nodeID: NodeID
        public var clientURL: String
        public var peerURL: String

        public init(nodeID: NodeID, clientURL: String, peerURL: String) {
            self.nodeID = nodeID
            self.clientURL = clientURL
            self.peerURL = peerURL
        }
    }

    let host: NodeHost
    let members: [Member]
    public let clusterID: UInt64
    let quotaBytes: Int64
    let alarms = Mutex(AlarmTable())
    let term = Atomic<UInt64>(0)
    let revision: @Sendable () async throws -> Int64
    let hashKV: @Sendable (Int64) async throws -> HashKVResult
    let backup: @Sendable () async throws -> SnapshotStream

    /// `revision` answers the header revision of maintenance responses (the router's current
    /// revision), `hashKV` etcd's HashKV (the router's cluster-wide digest), `backup` the
    /// Snapshot stream (the server's `ClusterBackupSource`).
    /// `quotaBytes` is etcd's --quota-backend-bytes (0 = etcd's default, 2 GiB).
    public init(host: NodeHost, members: [Member], quotaBytes: Int64,
                revision: @escaping @Sendable () async throws -> Int64,
                hashKV: @escaping @Sendable (Int64) async throws -> HashKVResult,
                backup: @escaping @Sendable () async throws -> SnapshotStream) {
        self.host = host
        self.members = members.sorted { $0.nodeID < $1.nodeID }
        self.quotaBytes = quotaBytes > 0 ? quotaBytes : 2 << 30
        self.revision = revision
        self.hashKV = hashKV
        self.backup = backup
        // A stable cluster ID: FNV-1a over the sorted member peer URLs.
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for m in self.members {
            for b in "\(m.nodeID.rawValue)=\(m.peerURL);".utf8 {
                h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
            }
        }
        clusterID = h
    }

    var memberID: UInt64 { host.nodeID.rawValue }

    /// Re-reads the values headers and status show without waiting (call every ~100 ms);
    /// raises the NOSPACE alarm when the data file exceeds the quota.
    public func refresh() {
        let system = host.rangeIDs.first
        if let id = system, let st = host.raftStatus(of: id) { term.store(st.hardState.term, ordering: .relaxed) }
        if host.dataFileSize.fileBytes > quotaBytes {
            _ = alarms.withLock { $0.apply(.activate, member: memberID, alarm: .noSpace) }
        }
    }

    /// Whether writes must be refused (an active NOSPACE alarm anywhere in this node's view).
    public var noSpace: Bool { alarms.withLock { $0.noSpace } }

    // MARK: EtcdClusterBackend

    public func identity() -> ClusterIdentity {
        ClusterIdentity(clusterID: clusterID, memberID: memberID, raftTerm: term.load(ordering: .relaxed))
    }

    public func memberList() async throws -> [MemberInfo] {
        members.map {
            MemberInfo(id: $0.nodeID.rawValue, name: "node-\($0.nodeID.rawValue)", peerURLs: [$0.peerURL],
                       clientURLs: [$0.clientURL])
        }
    }

    // MARK: EtcdMaintenanceBackend

    public func status() async throws -> StatusInfo {
        let size = host.dataFileSize
        let errors = alarms.withLock { $0.statusErrors }
        let m = host.metrics
        let applied = m.appliedIndex.values.reduce(0, +)
        let leader = host.systemLeader()
        let rev = try await revision()
        return StatusInfo(
            version: "3.4.23", dbSize: size.fileBytes, dbSizeInUse: size.inUseBytes,
            leader: leader == .none ? 0 : leader.rawValue, raftIndex: applied, raftTerm: term.load(ordering: .relaxed),
            raftAppliedIndex: applied, errors: errors, revision: rev)
    }

    public func alarm(_ action: AlarmAction, memberID: UInt64, alarm: AlarmKind) async throws -> (alarms: [AlarmInfo], revision: Int64) {
        let member = memberID == 0 ? self.memberID : memberID
        let result = alarms.withLock { $0.apply(action, member: member, alarm: alarm) }
        return (result, try await revision())
    }

    public func hashKV(revision: Int64) async throws -> HashKVResult { try await hashKV(revision) }

    /// The cluster backup (`ClusterBackupSource`): every range at one cluster revision,
    /// streamed.
    public func snapshot() async throws -> SnapshotStream { try await backup() }

    public func defragment() async throws {}
}
