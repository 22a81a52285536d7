/// Plain response structs mirroring etcd's `etcdserverpb` responses; `revision` is the
/// header revision (cluster ID, member ID and term are filled by the API layer).

/// etcd's `RangeResponse`.
public struct RangeResponse: Equatable, Sendable {
    public var revision: Int64
    public var kvs: [KeyValue]
    public var more: Bool
    public var count: Int64
}

/// etcd's `PutResponse`.
public struct PutResponse: Equatable, Sendable {
    public var revision: Int64
    public var prevKV: KeyValue?
}

/// etcd's `DeleteRangeResponse`.
public struct DeleteRangeResponse: Equatable, Sendable {
    public var revision: Int64
    public var deleted: Int64
    public var prevKVs: [KeyValue]
}

/// etcd's `ResponseOp`.
public indirect enum ResponseOp: Equatable, Sendable {
    case range(RangeResponse)
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
}

/// etcd's `TxnResponse`.
public struct TxnResponse: Equatable, Sendable {
    public var revision: Int64
    public var succeeded: Bool
    public var responses: [ResponseOp]
}

/// etcd's `CompactionResponse` plus what the store did.
public struct CompactResponse: Equatable, Sendable {
    public var revision: Int64
}

/// etcd's `HashKVResponse` for one range.
public struct HashKVResponse: Equatable, Sendable {
    public var hash: UInt32
    public var compactRevision: Int64
    public var revision: Int64
}

/// The answer to "events of a key range from revision R on".
public enum EventsResult: Equatable, Sendable {
    /// Events in revision order (then sub revision); `nextRevision` is where to continue.
    case events([WatchEvent], nextRevision: Int64)
    /// R is below the compacted revision: the watch must be canceled with this revision.
    case compacted(compactRevision: Int64)
}
