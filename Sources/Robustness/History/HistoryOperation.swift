/// One key-value pair as a read or a watch event reports it (etcd's mvccpb.KeyValue).
public struct KVRecord: Hashable, Sendable, Codable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var modRevision: Int64
    public var createRevision: Int64
    public var version: Int64
    public var lease: Int64

    public init(key: String, value: String, modRevision: Int64, createRevision: Int64, version: Int64, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.modRevision = modRevision
        self.createRevision = createRevision
        self.version = version
        self.lease = lease
    }

    public var description: String { "\(key)=\(value)@mod\(modRevision)/create\(createRevision)/v\(version)" + (lease != 0 ? "/lease\(lease)" : "") }
}

/// What a client asked for: the harness's workload vocabulary (a subset of the etcd KV and
/// Lease API with the shapes the model understands).
public enum OpInput: Hashable, Sendable, Codable {
    /// Linearizable Range of one key.
    case get(key: String)
    /// Linearizable Range of every key starting with `prefix`.
    case list(prefix: String)
    /// Put; `lease` 0 means none. Every value a workload writes is unique.
    case put(key: String, value: String, lease: Int64)
    /// DeleteRange of one key.
    case delete(key: String)
    /// Txn: if mod_revision(key) == expected then put(key, value) else get(key).
    case compareAndSet(key: String, expectedModRevision: Int64, value: String)
    case leaseGrant(ttl: Int64)
    case leaseRevoke(id: Int64)
    case compact(revision: Int64)

    /// The keys the operation reads or writes (nil: every key under a prefix).
    public var key: String? {
        switch self {
        case .get(let k), .put(let k, _, _), .delete(let k), .compareAndSet(let k, _, _): k
        default: nil
        }
    }

    /// True for operations that may change the key-value state or the lease set.
    public var isWrite: Bool {
        switch self {
        case .get, .list: false
        default: true
        }
    }

    /// The unique value this operation writes, if any.
    public var writtenValue: String? {
        switch self {
        case .put(_, let v, _), .compareAndSet(_, _, let v): v
        default: nil
        }
    }
}

/// What came back. `unknown` is a write whose fate the client cannot know (timeout,
/// unavailable, connection lost): it may have happened, at any later time.
public enum OpOutput: Hashable, Sendable, Codable {
    /// Get / list: the header revision and the key-values, in key order.
    case range(revision: Int64, kvs: [KVRecord])
    case put(revision: Int64)
    case delete(revision: Int64, deleted: Int64)
    /// Txn: header revision, whether the compare held, and the failure branch's read.
    case compareAndSet(revision: Int64, succeeded: Bool, kvs: [KVRecord])
    case leaseGrant(revision: Int64, id: Int64)
    case leaseRevoke(revision: Int64)
    case compact(revision: Int64)
    /// A definite error: the request was refused and had no effect.
    case failed(code: String, message: String)
    /// Outcome unknown (timeout / unavailable / connection lost).
    case unknown(reason: String)

    /// The response header's revision, when there is a response.
    public var headerRevision: Int64? {
        switch self {
        case .range(let r, _), .put(let r), .delete(let r, _), .compareAndSet(let r, _, _), .leaseGrant(let r, _),
            .leaseRevoke(let r), .compact(let r):
            r
        case .failed, .unknown: nil
        }
    }

    public var isUnknown: Bool { if case .unknown = self { true } else { false } }
}

/// One operation of a history: who ran it, when (monotonic nanoseconds since the run
/// started), what it asked, what it got. `returnTime` is `Int64.max` for an operation whose
/// outcome is unknown: it may take effect at any time after its call.
public struct HistoryOperation: Hashable, Sendable, Codable, CustomStringConvertible {
    public var id: Int
    public var client: Int
    public var callTime: Int64
    public var returnTime: Int64
    public var input: OpInput
    public var output: OpOutput

    public init(id: Int, client: Int, callTime: Int64, returnTime: Int64, input: OpInput, output: OpOutput) {
        self.id = id
        self.client = client
        self.callTime = callTime
        self.returnTime = returnTime
        self.input = input
        self.output = output
    }

    public var description: String {
        let ret = returnTime == .max ? "∞" : "\(returnTime / 1_000)µs"
        return "#\(id) c\(client) [\(callTime / 1_000)µs, \(ret)] \(input) -> \(output)"
    }
}
