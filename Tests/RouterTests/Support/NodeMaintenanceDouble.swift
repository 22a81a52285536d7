import API
import Router
import Synchronization

/// A node's Maintenance backend as the server composes it with a router (the shape of
/// `NodeEtcdBackend` without a `NodeHost`): owns one node's alarm table; HashKV and header
/// revisions come from the router. `noSpace` feeds `QuotaKVBackend` in front of the router.
final class NodeMaintenanceDouble: EtcdMaintenanceBackend, Sendable {
    let router: Router
    let memberID: UInt64
    let alarms = Mutex(AlarmTable())

    init(router: Router, memberID: UInt64 = 1) {
        self.router = router
        self.memberID = memberID
    }

    /// Whether writes must be refused (an active NOSPACE alarm).
    var noSpace: Bool { alarms.withLock { $0.noSpace } }

    func status() async throws -> StatusInfo {
        let errors = alarms.withLock { $0.statusErrors }
        return StatusInfo(version: "3.4.23", dbSize: 0, dbSizeInUse: 0, leader: memberID, raftIndex: 0, raftTerm: 1,
                          raftAppliedIndex: 0, errors: errors, revision: try await router.currentRevision())
    }

    func alarm(_ action: AlarmAction, memberID: UInt64, alarm: AlarmKind) async throws
        -> (alarms: [AlarmInfo], revision: Int64)
    {
        let member = memberID == 0 ? self.memberID : memberID
        let result = alarms.withLock { $0.apply(action, member: member, alarm: alarm) }
        return (result, try await router.currentRevision())
    }

    func hashKV(revision: Int64) async throws -> HashKVResult { try await router.hashKV(revision: revision) }

    func snapshot() async throws -> SnapshotStream { throw EtcdError.unimplemented("snapshot in the router tests") }

    func defragment() async throws {}
}
