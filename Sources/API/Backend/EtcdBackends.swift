public import MVCC

/// The storage side of the etcd v3 API, as the gRPC services see it. The services validate,
/// call one of these protocols, map errors and fill the response header; everything about
/// ranges, Raft and revisions lives behind them (the Router implements them over many
/// ranges, `SingleStoreBackend` over one `MVCCStore`).
///
/// Errors: implementations throw `MVCCError` or `EtcdError`; the services turn both into
/// etcd's gRPC status code and message. Any other error becomes `Unknown`.

/// Key-value operations (etcd's `KV` service). Every response's `revision` is the header
/// revision: for reads the revision the read was served at, for writes the revision the
/// write was applied at (or the current revision when nothing changed).
public protocol EtcdKVBackend: Sendable {
    /// etcd's Range. `request.revision <= 0` reads the current revision; a compacted or
    /// future revision throws `MVCCError.compacted` / `.futureRevision`. `serializable`
    /// may be served from local state without a consensus round.
    func range(_ request: RangeRequest) async throws -> RangeResponse
    /// etcd's Put. A lease that does not exist (or has expired) throws
    /// `EtcdError.leaseNotFound`; `ignoreValue`/`ignoreLease` on a missing key throw
    /// `MVCCError.keyNotFound`.
    func put(_ request: PutRequest) async throws -> PutResponse
    /// etcd's DeleteRange; `deleted` counts the keys removed across the whole key range.
    func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse
    /// etcd's Txn: compares and the chosen branch execute atomically at one revision.
    func txn(_ request: TxnRequest) async throws -> TxnResponse
    /// etcd's Compact: `revision` must be above the compacted and at most the current
    /// revision (`MVCCError.compacted` / `.futureRevision` otherwise). When `physical` is
    /// true the call returns only after the history is removed.
    func compact(revision: Int64, physical: Bool) async throws -> CompactResponse
}

/// Watchable history (etcd's `Watch` service without the stream multiplexing, which the
/// service does).
public protocol EtcdWatchBackend: Sendable {
    /// Opens a feed of the changes of `spec`'s key range from `spec.startRevision` on
    /// (0: from the revision after the current one). The feed replays history, then follows
    /// live writes; a revision is never split across two items; events are in revision
    /// order (then in order within a txn); `prevKV` is filled when asked. It ends with
    /// `.compacted` when the start revision (or the next revision it needs) is compacted.
    /// The consumer pulls: a slow consumer must not make the feed buffer without bound.
    /// Cancelling the consuming task ends the feed.
    func watch(_ spec: WatchSpec) async throws -> WatchEventStream
    /// The revision a watch created now would consider current (header of `created`).
    func currentRevision() async throws -> Int64
}

/// Leases (etcd's `Lease` service). TTLs are seconds.
public protocol EtcdLeaseBackend: Sendable {
    /// Grants a lease. `id == 0` asks the backend to choose a fresh ID. A TTL below the
    /// minimum is raised silently (the answer carries the TTL used). An existing ID throws
    /// `EtcdError.leaseExists`. TTLs above `EtcdLimits.maxLeaseTTL` are refused by the service.
    func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseGrantResult
    /// Revokes a lease and deletes every key attached to it (atomically per range).
    /// Unknown or expired leases throw `EtcdError.leaseNotFound`. Returns the header revision.
    func leaseRevoke(id: Int64) async throws -> Int64
    /// Renews a lease to its granted TTL. An unknown or expired lease is not an error: the
    /// result has `ttl == 0`.
    func leaseKeepAlive(id: Int64) async throws -> LeaseKeepAliveResult
    /// Remaining and granted TTL, plus the attached keys when `keys`. An unknown or expired
    /// lease is not an error: the result has `ttl == -1`.
    func leaseTimeToLive(id: Int64, keys: Bool) async throws -> LeaseTimeToLiveResult
    /// Every live lease ID and the header revision.
    func leases() async throws -> (ids: [Int64], revision: Int64)
}

/// Membership and identity (etcd's `Cluster` service and every response header).
public protocol EtcdClusterBackend: Sendable {
    /// Cluster ID, this member's ID and the Raft term for response headers. Called on every
    /// response: must be cheap and must not block.
    func identity() -> ClusterIdentity
    /// The members (Flotilla: the nodes) with their client and peer URLs.
    func memberList() async throws -> [MemberInfo]
}

/// Operations on the node (etcd's `Maintenance` service).
public protocol EtcdMaintenanceBackend: Sendable {
    /// What `etcdctl endpoint status` shows.
    func status() async throws -> StatusInfo
    /// GET lists the active alarms; ACTIVATE / DEACTIVATE change one and return the alarms
    /// affected. While NOSPACE is active, writes throw `EtcdError.noSpace`.
    func alarm(_ action: AlarmAction, memberID: UInt64, alarm: AlarmKind) async throws -> (alarms: [AlarmInfo], revision: Int64)
    /// A digest of the MVCC state up to `revision` (0: current) that replicas agree on.
    func hashKV(revision: Int64) async throws -> HashKVResult
    /// A consistent backup as a chunk stream; a known `totalBytes` lets the service fill
    /// `remaining_bytes` exactly (see `SnapshotFraming` for both framings).
    func snapshot() async throws -> SnapshotStream
    /// Reclaims free space; a backend that needs none returns at once.
    func defragment() async throws
}

/// Everything the etcd services need, for callers that have one object implementing it all.
public typealias EtcdBackend = EtcdKVBackend & EtcdWatchBackend & EtcdLeaseBackend & EtcdClusterBackend
    & EtcdMaintenanceBackend
