public import Base
public import RaftCore

/// The fields of a message worth printing in a trace (no payloads).
public struct MessageSummary: Sendable, Hashable, CustomStringConvertible {
    public var type: MessageType
    public var from: ReplicaID
    public var to: ReplicaID
    public var term: UInt64
    public var logTerm: UInt64
    public var index: UInt64
    public var commit: UInt64
    public var entryCount: Int
    public var firstEntry: UInt64
    public var reject: Bool
    public var snapshotIndex: UInt64

    public init(_ m: Message) {
        type = m.type
        from = m.from
        to = m.to
        term = m.term
        logTerm = m.logTerm
        index = m.index
        commit = m.commit
        entryCount = m.entries.count
        firstEntry = m.entries.first?.index ?? 0
        reject = m.reject
        snapshotIndex = m.snapshot?.metadata.index ?? 0
    }

    public var description: String {
        var s = "\(type) \(from)->\(to) t\(term)"
        switch type {
        case .append, .heartbeat, .snapshot:
            s += " prev=(\(index),t\(logTerm)) commit=\(commit)"
            if entryCount > 0 { s += " ents=[\(firstEntry)..\(firstEntry + UInt64(entryCount) - 1)]" }
            if snapshotIndex > 0 { s += " snap@\(snapshotIndex)" }
        case .requestVote, .requestPreVote:
            s += " last=(\(index),t\(logTerm))"
        default:
            s += " idx=\(index)"
        }
        if reject { s += " REJECT hint=\(index)" }
        return s
    }
}

/// Why the network or the simulator did not deliver a message.
public enum DropReason: String, Sendable, Hashable {
    case lost, partitioned, targetDown, targetRetired, stepError
}

/// One thing that happened in a simulated run (kept cheap: formatted only on failure).
public enum TraceEvent: Sendable {
    case phase(String)
    case deliver(MessageSummary)
    case drop(MessageSummary, DropReason)
    case duplicate(MessageSummary)
    case propose(ReplicaID, proposal: UInt64, error: RaftError?)
    case role(ReplicaID, term: UInt64, role: StateRole, leader: ReplicaID)
    case commit(ReplicaID, commit: UInt64, term: UInt64)
    case persisted(ReplicaID, entries: Int, lastIndex: UInt64, hardState: HardState?, snapshot: UInt64)
    case crash(ReplicaID, recordsPersisted: Int, recordsInReady: Int)
    case restart(ReplicaID, incarnation: Int, hardState: HardState, lastIndex: UInt64, applied: UInt64)
    case retire(ReplicaID)
    case partition(String)
    case heal
    case proposeConfChange(ReplicaID, ConfChange, error: RaftError?)
    case applyConfChange(ReplicaID, index: UInt64, ConfState)
    case transferLeader(from: ReplicaID, to: ReplicaID)
    case snapshotCreated(ReplicaID, index: UInt64)
    case snapshotInstalled(ReplicaID, index: UInt64)
    case note(String)
}

extension TraceEvent: CustomStringConvertible {
    public var description: String {
        switch self {
        case .phase(let s): return "== \(s)"
        case .deliver(let m): return "deliver \(m)"
        case .drop(let m, let r): return "drop(\(r.rawValue)) \(m)"
        case .duplicate(let m): return "duplicate \(m)"
        case .propose(let r, let p, let e): return "propose r\(r) #\(p)" + (e.map { " -> \($0)" } ?? "")
        case .role(let r, let t, let role, let l): return "role r\(r) t\(t) \(role) leader=\(l)"
        case .commit(let r, let c, let t): return "commit r\(r) \(c) (t\(t))"
        case .persisted(let r, let n, let last, let hs, let snap):
            var s = "persist r\(r) ents=\(n) last=\(last)"
            if let hs { s += " hs=(t\(hs.term) v\(hs.vote) c\(hs.commit))" }
            if snap > 0 { s += " snap@\(snap)" }
            return s
        case .crash(let r, let k, let n):
            return n == 0 ? "CRASH r\(r)" : "CRASH r\(r) mid-persist: \(k)/\(n) records durable"
        case .restart(let r, let inc, let hs, let last, let applied):
            return "restart r\(r) #\(inc) hs=(t\(hs.term) v\(hs.vote) c\(hs.commit)) last=\(last) applied=\(applied)"
        case .retire(let r): return "retire r\(r) (removed from the group)"
        case .partition(let s): return "partition \(s)"
        case .heal: return "heal network"
        case .proposeConfChange(let r, let cc, let e):
            let body = cc.isLeaveJoint ? "leave-joint" : cc.changes.map { "\($0.type)(\($0.replicaID))" }.joined(separator: ",")
            return "propose-conf r\(r) \(cc.transition) \(body)" + (e.map { " -> \($0)" } ?? "")
        case .applyConfChange(let r, let i, let cs):
            return "apply-conf r\(r) @\(i) voters=\(cs.voters) out=\(cs.votersOutgoing) learners=\(cs.learners) next=\(cs.learnersNext) auto=\(cs.autoLeave)"
        case .transferLeader(let f, let t): return "transfer-leader r\(f) -> r\(t)"
        case .snapshotCreated(let r, let i): return "snapshot r\(r) created @\(i)"
        case .snapshotInstalled(let r, let i): return "snapshot r\(r) installed @\(i)"
        case .note(let s): return s
        }
    }
}
