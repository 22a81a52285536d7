import Base
import MVCC
import Node

extension AdminService {
    /// Every range this node holds a replica of, read from the local replica (no consensus
    /// round; a follower's figures may lag its leader's). Live keys and bytes come from one
    /// scan of the range's current state: an admin query, not for hot paths.
    func rangeInfos() -> [AdminProtocol.RangeInfo] {
        host.rangeIDs.compactMap { id -> AdminProtocol.RangeInfo? in
            guard let d = host.descriptor(of: id) else { return nil }
            var keys: UInt64 = 0
            var bytes: UInt64 = 0
            if let store = host.store(for: id) {
                // rangeEnd [0] = every key >= start; keys are never empty, so an empty
                // start key reads from [0] (the store refuses an empty key).
                let start = d.startKey.isEmpty ? [0] : d.startKey
                if let r = try? store.range(RangeRequest(key: start, rangeEnd: d.endKey ?? [0])) {
                    keys = UInt64(r.kvs.count)
                    bytes = r.kvs.reduce(0) { $0 + UInt64($1.key.count + $1.value.count) }
                }
            }
            return AdminProtocol.RangeInfo(
                rangeID: id, startKey: d.startKey, endKey: d.endKey, replicas: d.replicas.map(\.nodeID),
                leader: host.leaderHint(of: id), isLeader: host.isLeader(of: id),
                appliedIndex: host.raftStatus(of: id)?.applied ?? 0, liveKeys: keys, liveBytes: bytes)
        }
    }
}
