public import Base
import MVCC
import RaftCore
import WAL

/// Creating and removing range replicas on this node. Both run under the loop's state lock
/// (between poll rounds) and are durable when they return.
extension NodeHost {
    /// Errors of replica lifecycle operations.
    public enum ReplicaLifecycleError: Error, Sendable, Equatable {
        case alreadyExists(RangeID)
        case notFound(RangeID)
        case notAReplica(RangeID, NodeID)
    }

    /// Creates this node's replica of `descriptor` with an empty segment (data arrives
    /// through the log or a snapshot). `campaign` starts an election right away.
    public func createReplica(_ descriptor: RangeDescriptor, campaign: Bool = false) throws {
        guard let me = descriptor.replica(on: nodeID) else {
            throw ReplicaLifecycleError.notAReplica(descriptor.rangeID, nodeID)
        }
        try state.withLock { s in
            guard s.replicas[descriptor.rangeID] == nil else {
                throw ReplicaLifecycleError.alreadyExists(descriptor.rangeID)
            }
            let store = try MVCCStore.create(backend: storeBackend(for: descriptor.rangeID), rangeID: descriptor.rangeID, start: descriptor.startKey,
                                             end: descriptor.endKey, descriptor: descriptor.encoded())
            let r = try RangeReplica(descriptor: descriptor, replicaID: me.replicaID, store: store, wal: wal,
                                     config: config)
            if campaign { try r.raw.campaign() }
            s.replicas[descriptor.rangeID] = r
            s.addPeers(of: descriptor, me: nodeID, now: Self.nowNs())
            views.withLock { $0[descriptor.rangeID] = ReplicaView(r) }
        }
        _ = enqueue { _ in true }  // let the loop pick up the campaign's messages now
    }

    /// Asks the range's leader to hand leadership to `node`'s replica (forwarded by a
    /// follower). Returns at once; watch `leaderHint(of:)` for the outcome.
    public func transferLeadership(of range: RangeID, to node: NodeID) {
        _ = enqueue { m in
            m.transfers.append((range, node))
            return true
        }
    }

    /// Removes this node's replica of `range`: its log leaves the WAL (`.rangeRemoved`), its
    /// segment, history and metadata leave the data file, and proposals waiting on it fail
    /// with `.rangeNotFound`.
    public func removeReplica(_ range: RangeID) throws {
        try state.withLock { s in
            guard let r = s.replicas[range] else { throw ReplicaLifecycleError.notFound(range) }
            // After every batch handed to the sync thread (it may hold this range's entries).
            syncer.waitUntilIdle()
            try wal.append([.rangeRemoved(range)])
            try r.store.drop()
            failUnappended(of: r, .rangeNotFound(range), &s)
            s.replicas[range] = nil
            _ = views.withLock { $0.removeValue(forKey: range) }
            for (id, p) in s.pending where p.rangeID == range {
                _ = takePending(id, &s)
                fail(p.waiters, .rangeNotFound(range), &s)
            }
            s.metrics.appliedIndex[range] = nil
        }
    }
}
