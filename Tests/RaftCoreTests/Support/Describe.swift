import Base
@testable import RaftCore

/// Compact, stable text forms of core values for the scenario scripts. Fields that are
/// zero/empty are omitted so that lines stay short and reviewable.

func describe(_ e: Entry) -> String {
    var s = "\(e.term)/\(e.index)"
    switch e.type {
    case .normal:
        if !e.data.isEmpty { s += " \"\(String(decoding: e.data, as: UTF8.self))\"" }
    case .confChange:
        if let cc = try? ConfChange(decoding: e.data) { s += " conf:" + describe(cc) } else { s += " conf:?" }
    }
    return s
}

func describe(_ entries: [Entry]) -> String {
    entries.map(describe).joined(separator: ", ")
}

func describe(_ cc: ConfChange) -> String {
    if cc.isLeaveJoint { return "leave" }
    var parts = cc.changes.map { c -> String in
        switch c.type {
        case .addNode: "v\(c.replicaID)"
        case .addLearnerNode: "l\(c.replicaID)"
        case .removeNode: "r\(c.replicaID)"
        }
    }
    switch cc.transition {
    case .auto: break
    case .jointImplicit: parts.append("implicit")
    case .jointExplicit: parts.append("explicit")
    }
    return parts.joined(separator: " ")
}

func describe(_ cs: ConfState) -> String {
    var s = "voters=(\(cs.voters.map(String.init).joined(separator: " ")))"
    if !cs.votersOutgoing.isEmpty { s += "&&(\(cs.votersOutgoing.map(String.init).joined(separator: " ")))" }
    if !cs.learners.isEmpty { s += " learners=(\(cs.learners.map(String.init).joined(separator: " ")))" }
    if !cs.learnersNext.isEmpty { s += " learners_next=(\(cs.learnersNext.map(String.init).joined(separator: " ")))" }
    if cs.autoLeave { s += " autoleave" }
    return s
}

func describe(_ t: MessageType) -> String {
    switch t {
    case .hup: "Hup"
    case .beat: "Beat"
    case .propose: "Prop"
    case .append: "App"
    case .appendResponse: "AppResp"
    case .requestVote: "Vote"
    case .requestVoteResponse: "VoteResp"
    case .snapshot: "Snap"
    case .heartbeat: "Heartbeat"
    case .heartbeatResponse: "HeartbeatResp"
    case .unreachable: "Unreachable"
    case .snapshotStatus: "SnapStatus"
    case .checkQuorum: "CheckQuorum"
    case .transferLeader: "TransferLeader"
    case .timeoutNow: "TimeoutNow"
    case .readIndex: "ReadIndex"
    case .readIndexResponse: "ReadIndexResp"
    case .requestPreVote: "PreVote"
    case .requestPreVoteResponse: "PreVoteResp"
    }
}

func describe(_ m: Message) -> String {
    var s = "\(m.from)->\(m.to) \(describe(m.type)) term=\(m.term)"
    switch m.type {
    case .append, .requestVote, .requestPreVote:
        s += " log=\(m.logTerm)/\(m.index)"
    case .appendResponse, .readIndexResponse:
        s += " index=\(m.index)"
    default:
        break
    }
    if m.commit != 0 { s += " commit=\(m.commit)" }
    if m.reject {
        s += " rejected"
        if m.type == .appendResponse { s += " hint=\(m.logTerm)/\(m.rejectHint)" }
    }
    if !m.context.isEmpty { s += " ctx=\"\(String(decoding: m.context, as: UTF8.self))\"" }
    if let snap = m.snapshot {
        s += " snapshot=\(snap.metadata.term)/\(snap.metadata.index) \(describe(snap.metadata.confState))"
    }
    if !m.entries.isEmpty { s += " [\(describe(m.entries))]" }
    return s
}

func describe(_ role: StateRole) -> String {
    switch role {
    case .follower: "follower"
    case .preCandidate: "pre-candidate"
    case .candidate: "candidate"
    case .leader: "leader"
    }
}

func describe(ready rd: Ready, of id: ReplicaID) -> String {
    var lines = ["> \(id) ready" + (rd.mustSync ? " (sync)" : "")]
    if let ss = rd.softState { lines.append("  soft: \(describe(ss.role)) lead=\(ss.leader)") }
    if let hs = rd.hardState { lines.append("  hard: term=\(hs.term) vote=\(hs.vote) commit=\(hs.commit)") }
    if !rd.entries.isEmpty { lines.append("  entries: \(describe(rd.entries))") }
    if let s = rd.snapshot {
        lines.append("  snapshot: \(s.metadata.term)/\(s.metadata.index) \(describe(s.metadata.confState))")
    }
    if !rd.committedEntries.isEmpty { lines.append("  committed: \(describe(rd.committedEntries))") }
    for rs in rd.readStates {
        lines.append("  read-state: index=\(rs.index) ctx=\"\(String(decoding: rs.context, as: UTF8.self))\"")
    }
    if !rd.messages.isEmpty {
        lines.append("  send:")
        for m in rd.messages { lines.append("    \(describe(m))") }
    }
    return lines.joined(separator: "\n")
}
