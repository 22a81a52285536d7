import Base
import MVCC

/// Where the system range's store lives: the reserved `system.*` buckets of the node's data
/// file (a `PageStoreBackend` with `systemBucketNames`), every other range in the user
/// buckets (`mvcc.*`, the standard names).
/// The hooks the node runtime calls when it opens, creates, commits or ingests a store.
extension NodeHost {
    /// The system range's buckets: every MVCC bucket renamed with a `system.` prefix
    /// (`system.mvcc.records`, `system.mvcc.meta`, …). On-disk names: never change them.
    static let systemBucketNames = MVCCBucketNames.prefixed("system.")

    /// The MVCC backend holding `range`'s store.
    static func storeBackend(for range: RangeID, user: PageStoreBackend, system: PageStoreBackend) -> any MVCCBackend {
        range == .system ? system : user
    }

    /// The MVCC backend holding `range`'s store on this node.
    func storeBackend(for range: RangeID) -> any MVCCBackend {
        Self.storeBackend(for: range, user: backend, system: systemBackend)
    }

    /// The replicas whose stores commit together: one group (one data-file transaction)
    /// per backend, since `MVCCStore.commit` takes the stores of one backend. The system
    /// range, when it moved, commits in a transaction of its own.
    static func commitGroups(_ replicas: [RangeReplica]) -> [[RangeReplica]] {
        let system = replicas.filter { $0.rangeID == .system }
        let user = replicas.filter { $0.rangeID != .system }
        return [user, system].filter { !$0.isEmpty }
    }
}
