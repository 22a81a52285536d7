import MVCC

/// Cluster identity (one member, term 1) and maintenance: status, alarms, HashKV, snapshot.
extension SingleStoreBackend: EtcdClusterBackend, EtcdMaintenanceBackend {
    public func identity() -> ClusterIdentity {
        ClusterIdentity(clusterID: config.clusterID, memberID: config.memberID, raftTerm: 1)
    }

    public func memberList() async throws -> [MemberInfo] {
        [MemberInfo(id: config.memberID, name: config.name, peerURLs: config.peerURLs, clientURLs: config.clientURLs)]
    }

    public func status() async throws -> StatusInfo {
        let stats = pageFile?.stats
        let dbSize = Int64(stats?.fileBytes ?? 0)
        let inUse = stats.map { Int64(($0.pageCount - $0.freePages) * $0.pageSize) } ?? 0
        let errors = writer.withLock { $0.alarms.statusErrors }
        let revision = store.currentRevision
        return StatusInfo(
            version: config.version, dbSize: dbSize, dbSizeInUse: inUse, leader: config.memberID,
            raftIndex: UInt64(revision), raftTerm: 1, raftAppliedIndex: UInt64(revision), errors: errors,
            revision: revision)
    }

    public func alarm(_ action: AlarmAction, memberID: UInt64, alarm: AlarmKind) async throws -> (alarms: [AlarmInfo], revision: Int64) {
        let member = memberID == 0 ? config.memberID : memberID
        let result = writer.withLock { $0.alarms.apply(action, member: member, alarm: alarm) }
        return (result, store.currentRevision)
    }

    public func hashKV(revision: Int64) async throws -> HashKVResult {
        let r = try store.hashKV(atRevision: revision)
        return HashKVResult(hash: r.hash, compactRevision: r.compactRevision, revision: r.revision)
    }

    /// The store's segment snapshot (Flotilla's format, not a bbolt file), taken under the
    /// writer lock so it holds every acknowledged write. Held in memory while streaming.
    public func snapshot() async throws -> SnapshotStream {
        let (chunks, revision): ([[UInt8]], Int64) = try writer.withLock { _ in
            try store.commit(appliedIndex: UInt64(store.currentRevision))
            var chunks: [[UInt8]] = []
            try store.writeSnapshot { chunks.append($0) }
            return (chunks, store.currentRevision)
        }
        let total = chunks.reduce(0) { $0 + UInt64($1.count) }
        let stream = AsyncThrowingStream<[UInt8], any Error> { c in
            for chunk in chunks { c.yield(chunk) }
            c.finish()
        }
        return SnapshotStream(totalBytes: total, chunks: stream, revision: revision)
    }

    public func defragment() async throws {}
}
