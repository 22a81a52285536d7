/// One key's state in the model. A revision is nil when the write that set it had an
/// unknown outcome and was never observed, so its exact revision is unknowable.
public struct ModelKey: Hashable, Sendable {
    public var value: String
    public var modRevision: Int64?
    public var createRevision: Int64?
    public var version: Int64
    public var lease: Int64
}

/// The state of the executable etcd model: keys, live leases, and `revision`, the smallest
/// current revision consistent with what was linearized so far. Revisions may have gaps
/// (Flotilla's global revisions): the model checks their order, never their exact values.
public struct ModelState: Hashable, Sendable {
    public var keys: [String: ModelKey] = [:]
    public var leases: Set<Int64> = []
    public var revision: Int64 = 1

    public init() {}
}

/// The executable model of etcd's KV + Lease semantics used by the linearizability checker:
/// `step` returns every state the model may be in after `op` from `state` (empty: the
/// operation's result is impossible from `state`). Revisions are checked by order: a write
/// needs a revision above the current one, a read a header revision at least the current one.
/// Leases never expire inside a run (the workload grants long TTLs).
public enum KVModel {
    /// `revokePerRange`: Flotilla's lease revoke deletes the attached keys range by range, each
    /// range at a revision of its own, and answers with a fresh revision above them all
    /// (docs/architecture.md §12) — so in a key's partition the deletion happened at some
    /// revision in (current, header], not at the header (etcd: exactly at the header).
    public static func step(_ state: ModelState, _ op: HistoryOperation, revokePerRange: Bool = false) -> [ModelState] {
        switch (op.input, op.output) {
        case (_, .unknown):
            return unknownStep(state, op.input)

        case (.get(let key), .range(let rev, let kvs)):
            guard rev >= state.revision, matches(state, keys: [key], kvs) else { return [] }
            var s = state
            s.revision = rev
            return [s]

        case (.list(let prefix), .range(let rev, let kvs)):
            guard rev >= state.revision else { return [] }
            let keys = state.keys.keys.filter { $0.hasPrefix(prefix) }.sorted()
            guard matches(state, keys: keys, kvs) else { return [] }
            var s = state
            s.revision = rev
            return [s]

        case (.put(let key, let value, let lease), .put(let rev)):
            guard rev > state.revision, lease == 0 || state.leases.contains(lease) else { return [] }
            return [applyPut(state, key: key, value: value, lease: lease, revision: rev)]

        case (.put(_, _, let lease), .failed(let code, _)):
            // Only a lease that does not exist is a definite refusal the model explains.
            guard code == "notFound", lease != 0, !state.leases.contains(lease) else { return [] }
            return [state]

        case (.delete(let key), .delete(let rev, let deleted)):
            let exists = state.keys[key] != nil
            guard deleted == (exists ? 1 : 0) else { return [] }
            var s = state
            if exists {
                guard rev > state.revision else { return [] }
                s.keys[key] = nil
            } else {
                guard rev >= state.revision else { return [] }
            }
            s.revision = rev
            return [s]

        case (.compareAndSet(let key, let expected, let value), .compareAndSet(let rev, let succeeded, let kvs)):
            let current = state.keys[key]
            if succeeded {
                if let current, let mod = current.modRevision, mod != expected { return [] }
                if current == nil, expected != 0 { return [] }
                guard rev > state.revision else { return [] }
                return [applyPut(state, key: key, value: value, lease: 0, revision: rev)]
            } else {
                if current == nil, expected == 0 { return [] }
                if let current, let mod = current.modRevision, mod == expected { return [] }
                guard rev >= state.revision, matches(state, keys: [key], kvs) else { return [] }
                var s = state
                s.revision = rev
                return [s]
            }

        case (.leaseGrant, .leaseGrant(let rev, let id)):
            guard rev >= state.revision, !state.leases.contains(id) else { return [] }
            var s = state
            s.leases.insert(id)
            s.revision = rev
            return [s]

        case (.leaseRevoke(let id), .leaseRevoke(let rev)):
            guard state.leases.contains(id) else { return [] }
            let (s, deletedAny) = revoke(state, id)
            guard deletedAny ? rev > state.revision : rev >= state.revision else { return [] }
            var next = s
            next.revision = revokePerRange ? (deletedAny ? state.revision + 1 : state.revision) : rev
            return [next]

        case (.leaseRevoke(let id), .failed(let code, _)):
            guard code == "notFound", !state.leases.contains(id) else { return [] }
            return [state]

        default:
            return []
        }
    }

    /// An unknown write either never happened or happened with some revision above the
    /// current one; the smallest such revision is the most permissive choice for everything
    /// that follows (later checks are all lower bounds), so it stands for all of them.
    static func unknownStep(_ state: ModelState, _ input: OpInput) -> [ModelState] {
        let next = state.revision + 1
        switch input {
        case .get, .list, .compact, .leaseGrant:
            return [state]
        case .put(let key, let value, let lease):
            guard lease == 0 || state.leases.contains(lease) else { return [state] }
            var s = applyPut(state, key: key, value: value, lease: lease, revision: next)
            s.keys[key]?.modRevision = nil
            if state.keys[key] == nil { s.keys[key]?.createRevision = nil }
            return [state, s]
        case .delete(let key):
            guard state.keys[key] != nil else { return [state] }
            var s = state
            s.keys[key] = nil
            s.revision = next
            return [state, s]
        case .compareAndSet(let key, let expected, let value):
            let current = state.keys[key]
            let mayHold = current == nil ? expected == 0 : (current!.modRevision == nil || current!.modRevision == expected)
            guard mayHold else { return [state] }
            var s = applyPut(state, key: key, value: value, lease: 0, revision: next)
            s.keys[key]?.modRevision = nil
            if current == nil { s.keys[key]?.createRevision = nil }
            return [state, s]
        case .leaseRevoke(let id):
            guard state.leases.contains(id) else { return [state] }
            var (s, deletedAny) = revoke(state, id)
            if deletedAny { s.revision = next }
            return [state, s]
        }
    }

    static func applyPut(_ state: ModelState, key: String, value: String, lease: Int64, revision: Int64) -> ModelState {
        var s = state
        if let old = state.keys[key] {
            s.keys[key] = ModelKey(
                value: value, modRevision: revision, createRevision: old.createRevision, version: old.version + 1, lease: lease)
        } else {
            s.keys[key] = ModelKey(value: value, modRevision: revision, createRevision: revision, version: 1, lease: lease)
        }
        s.revision = revision
        return s
    }

    static func revoke(_ state: ModelState, _ id: Int64) -> (ModelState, Bool) {
        var s = state
        s.leases.remove(id)
        let attached = s.keys.filter { $0.value.lease == id }.map(\.key)
        for k in attached { s.keys[k] = nil }
        return (s, !attached.isEmpty)
    }

    /// True when `kvs` is exactly the model's view of `keys` (in order); unknown model
    /// revisions match anything.
    static func matches(_ state: ModelState, keys: [String], _ kvs: [KVRecord]) -> Bool {
        let present = keys.filter { state.keys[$0] != nil }
        guard present.count == kvs.count else { return false }
        for (k, kv) in zip(present, kvs) {
            let m = state.keys[k]!
            guard kv.key == k, kv.value == m.value, kv.version == m.version, kv.lease == m.lease else { return false }
            if let mod = m.modRevision, mod != kv.modRevision { return false }
            if let create = m.createRevision, create != kv.createRevision { return false }
        }
        return true
    }
}
