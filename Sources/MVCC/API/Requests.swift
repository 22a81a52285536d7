/// Plain request structs mirroring etcd's `etcdserverpb` messages field for field (the
/// gRPC layer maps protobuf to them). Byte strings are `[UInt8]`; an empty `rangeEnd` means
/// "just `key`", `rangeEnd == [0]` means "every key >= `key`".

/// etcd's `RangeRequest`.
public struct RangeRequest: Equatable, Sendable {
    /// etcd's `RangeRequest.SortOrder`; unknown wire values are kept so they can be refused.
    public enum SortOrder: Equatable, Sendable {
        case none, ascend, descend
        case unrecognized(Int)
    }
    /// etcd's `RangeRequest.SortTarget`.
    public enum SortTarget: Equatable, Sendable {
        case key, version, create, mod, value
        case unrecognized(Int)
    }

    public var key: [UInt8]
    public var rangeEnd: [UInt8] = []
    public var limit: Int64 = 0
    public var revision: Int64 = 0
    public var sortOrder: SortOrder = .none
    public var sortTarget: SortTarget = .key
    public var serializable = false
    public var keysOnly = false
    public var countOnly = false
    public var minModRevision: Int64 = 0
    public var maxModRevision: Int64 = 0
    public var minCreateRevision: Int64 = 0
    public var maxCreateRevision: Int64 = 0

    public init(
        key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, revision: Int64 = 0,
        sortOrder: SortOrder = .none, sortTarget: SortTarget = .key, serializable: Bool = false,
        keysOnly: Bool = false, countOnly: Bool = false, minModRevision: Int64 = 0,
        maxModRevision: Int64 = 0, minCreateRevision: Int64 = 0, maxCreateRevision: Int64 = 0
    ) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.limit = limit
        self.revision = revision
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.serializable = serializable
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.minModRevision = minModRevision
        self.maxModRevision = maxModRevision
        self.minCreateRevision = minCreateRevision
        self.maxCreateRevision = maxCreateRevision
    }
}

/// etcd's `PutRequest`.
public struct PutRequest: Equatable, Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var lease: Int64
    public var prevKV: Bool
    public var ignoreValue: Bool
    public var ignoreLease: Bool

    public init(
        key: [UInt8], value: [UInt8] = [], lease: Int64 = 0, prevKV: Bool = false,
        ignoreValue: Bool = false, ignoreLease: Bool = false
    ) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
        self.ignoreValue = ignoreValue
        self.ignoreLease = ignoreLease
    }
}

/// etcd's `DeleteRangeRequest`.
public struct DeleteRangeRequest: Equatable, Sendable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    public var prevKV: Bool

    public init(key: [UInt8], rangeEnd: [UInt8] = [], prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKV = prevKV
    }
}

/// etcd's `Compare`.
public struct Compare: Equatable, Sendable {
    public enum Result: Equatable, Sendable { case equal, greater, less, notEqual }
    /// The target and the operand it is compared with (etcd's `target` + `target_union`).
    public enum Target: Equatable, Sendable {
        case version(Int64)
        case create(Int64)
        case mod(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public var result: Result
    public var target: Target
    public var key: [UInt8]
    public var rangeEnd: [UInt8]

    public init(key: [UInt8], rangeEnd: [UInt8] = [], target: Target, result: Result) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.target = target
        self.result = result
    }
}

/// etcd's `RequestOp`.
public indirect enum RequestOp: Equatable, Sendable {
    case range(RangeRequest)
    case put(PutRequest)
    case deleteRange(DeleteRangeRequest)
    case txn(TxnRequest)
    /// An op with no request set (etcd answers "key not found").
    case empty
}

/// etcd's `TxnRequest`.
public struct TxnRequest: Equatable, Sendable {
    public var compare: [Compare]
    public var success: [RequestOp]
    public var failure: [RequestOp]

    public init(compare: [Compare] = [], success: [RequestOp] = [], failure: [RequestOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    /// etcd's `IsTxnReadonly`: only range ops in both branches.
    public var isReadOnly: Bool {
        for op in success + failure {
            if case .range = op { continue }
            return false
        }
        return true
    }
}
