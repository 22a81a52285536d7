public import API

/// etcd's Maintenance service for a node running a router: alarms (NOSPACE) and HashKV are
/// the router's (cluster-wide), Status / Snapshot / Defragment the node's own backend's.
/// Status's `errors` lists the router's active alarms as etcd formats them. Owns nothing.
public struct RouterMaintenance: EtcdMaintenanceBackend {
    public let router: Router
    /// The node-local maintenance (status, snapshot, defragment).
    public let node: any EtcdMaintenanceBackend

    public init(router: Router, node: any EtcdMaintenanceBackend) {
        self.router = router
        self.node = node
    }

    public func status() async throws -> StatusInfo {
        var s = try await node.status()
        s.errors = router.state.withLock { $0.alarms.statusErrors }
        return s
    }

    public func alarm(_ action: AlarmAction, memberID: UInt64, alarm: AlarmKind) async throws
        -> (alarms: [AlarmInfo], revision: Int64)
    {
        try await router.alarm(action, memberID: memberID, alarm: alarm)
    }

    public func hashKV(revision: Int64) async throws -> HashKVResult {
        try await router.hashKV(revision: revision)
    }

    public func snapshot() async throws -> SnapshotStream {
        try await node.snapshot()
    }

    public func defragment() async throws {
        try await node.defragment()
    }
}
