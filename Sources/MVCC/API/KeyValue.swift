/// A key's state at one revision, mirroring etcd's `mvccpb.KeyValue`.
public struct KeyValue: Equatable, Hashable, Sendable {
    public var key: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    public var value: [UInt8]
    public var lease: Int64

    public init(
        key: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, version: Int64 = 0,
        value: [UInt8] = [], lease: Int64 = 0
    ) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }
}

/// One change of the revision-ordered history, mirroring etcd's `mvccpb.Event`.
public struct WatchEvent: Equatable, Sendable {
    public enum Kind: Sendable { case put, delete }
    public var kind: Kind
    /// For a delete: only `key` and `modRevision` are set (etcd's tombstone).
    public var kv: KeyValue
    /// The key's previous version when it is still indexed (not compacted, not deleted).
    public var prevKV: KeyValue?
    /// The sub revision inside the main revision (the order within a txn).
    public var sub: Int64

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue?, sub: Int64) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
        self.sub = sub
    }
}
