/// Plain response structs mirroring etcd's `etcdserverpb` responses; `revision` is the
/// header revision (cluster ID, member ID and term are filled by the API layer).

/// etcd's `RangeResponse`.
public struct RangeResponse: Equatable, Sendable {
    public var revision: Int64
    public var kvs: [KeyValue]
    public var more: Bool
    public var count: Int64

    public init(revision: Int64, kvs: [KeyValue] = [], more: Bool = false, count: Int64 = 0) {
        self.revision = revision
        self.kvs = kvs
        self.more = more
        self.count = count
    }
}

/// etcd's `PutResponse`.
public struct PutResponse: Equatable, Sendable {
    public var revision: Int64
    public var prevKV: KeyValue?

    public init(revision: Int64, prevKV: KeyValue? = nil) {
        self.revision = revision
        self.prevKV = prevKV
    }
}

/// etcd's `DeleteRangeResponse`.
public struct DeleteRangeResponse: Equatable, Sendable {
    public var revision: Int64
    public var deleted: Int64
    public var prevKVs: [KeyValue]

    public init(revision: Int64, deleted: Int64 = 0, prevKVs: [KeyValue] = []) {
        self.revision = revision
        self.deleted = deleted
        self.prevKVs = prevKVs
    }
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

    public init(revision: Int64, succeeded: Bool, responses: [ResponseOp] = []) {
        self.revision = revision
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// etcd's `CompactionResponse` plus what the store did.
public struct CompactResponse: Equatable, Sendable {
    public var revision: Int64

    public init(revision: Int64) {
        self.revision = revision
    }
}

/// etcd's `HashKVResponse` for one range.
public struct HashKVResponse: Equatable, Sendable {
    public var hash: UInt32
    public var compactRevision: Int64
    public var revision: Int64

    public init(hash: UInt32, compactRevision: Int64, revision: Int64) {
        self.hash = hash
        self.compactRevision = compactRevision
        self.revision = revision
    }
}

/// The answer to "events of a key range from revision R on".
public enum EventsResult: Equatable, Sendable {
    /// Events in revision order (then sub revision); `nextRevision` is where to continue.
    case events([WatchEvent], nextRevision: Int64)
    /// R is below the compacted revision: the watch must be canceled with this revision.
    case compacted(compactRevision: Int64)
}
