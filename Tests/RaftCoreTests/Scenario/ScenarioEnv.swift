import Base
@testable import RaftCore

/// Runs scenario commands against a `Cluster` and collects what they print.
///
/// Commands (ids are replica ids; `[ids]` means "these, or all when omitted"):
/// - `add-nodes N [voters=(..)] [learners=(..)] [index=I] [pre-vote=true] [check-quorum=true]
///   [read-only=lease] [forwarding=false] [max-inflight=K] [max-size=B] [max-uncommitted=B]`:
///   adds N replicas with the next ids; with `index` their storage starts from a snapshot
///   at index I, term 1, holding that membership.
/// - `campaign ID`, `propose ID text`, `propose-conf-change ID [v4] [l5] [r2]
///   [transition=implicit|explicit]` (no changes: leave joint), `read-index ID ctx`,
///   `transfer-leader from=ID to=ID`, `report-unreachable ID peer`,
///   `report-snapshot ID peer ok|fail`.
/// - `tick ID n`, `tick-heartbeat ID` (heartbeatTicks ticks), `tick-election ID` (a leader:
///   electionTicks ticks; others: exactly until their randomized timeout fires).
/// - `process-ready [ids]`, `deliver-msgs [ids] [drop=(ids)]` (prints each delivered
///   message), `stabilize [ids]` (repeat both until quiet; prints Readys and drops),
///   `isolate ID` / `heal` (drop all traffic of ID until healed).
/// - `raft-state`, `raft-log ID`, `status ID` (a leader's progress), `applied ID`,
///   `compact ID index` (snapshot at index and compact storage up to it).
final class ScenarioEnv {
    let cluster = Cluster()
    private var output: [String] = []

    init() {
        cluster.log = { [unowned self] line in self.output.append(line) }
    }

    func run(_ line: String) -> [String] {
        output = []
        let cmd = ScenarioCommand(line)
        do {
            try execute(cmd)
        } catch {
            output.append("error: \(error)")
        }
        if output.isEmpty { output = ["ok"] }
        return output.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }

    private func print(_ s: String) { output.append(s) }

    private func id(_ cmd: ScenarioCommand, _ i: Int = 0) throws -> ReplicaID {
        guard i < cmd.positional.count, let v = UInt64(cmd.positional[i]), cluster.nodes[v] != nil else {
            throw ScenarioError("\(cmd.name): missing or unknown replica id")
        }
        return v
    }

    private func execute(_ cmd: ScenarioCommand) throws {
        switch cmd.name {
        case "add-nodes": try addNodes(cmd)
        case "campaign":
            try cluster.nodes[try id(cmd)]!.campaign()
        case "propose":
            let r = try id(cmd)
            guard cmd.positional.count > 1 else { throw ScenarioError("propose: missing data") }
            try cluster.nodes[r]!.propose(Array(cmd.positional[1].utf8))
        case "propose-conf-change":
            let r = try id(cmd)
            var changes: [ConfChangeSingle] = []
            for t in cmd.positional.dropFirst() {
                guard let kind = t.first, let rid = UInt64(t.dropFirst()) else { throw ScenarioError("bad change \(t)") }
                switch kind {
                case "v": changes.append(ConfChangeSingle(.addNode, rid))
                case "l": changes.append(ConfChangeSingle(.addLearnerNode, rid))
                case "r": changes.append(ConfChangeSingle(.removeNode, rid))
                default: throw ScenarioError("bad change \(t)")
                }
            }
            let transition: ConfChangeTransition = switch cmd.keyed["transition"] {
            case "implicit": .jointImplicit
            case "explicit": .jointExplicit
            default: .auto
            }
            try cluster.nodes[r]!.proposeConfChange(ConfChange(transition: transition, changes: changes))
        case "read-index":
            let r = try id(cmd)
            cluster.nodes[r]!.readIndex(context: Array((cmd.positional.dropFirst().first ?? "").utf8))
        case "transfer-leader":
            guard let from = cmd.int("from"), let to = cmd.int("to") else { throw ScenarioError("from= to= needed") }
            cluster.nodes[UInt64(from)]!.transferLeader(to: UInt64(to))
        case "report-unreachable":
            cluster.nodes[try id(cmd)]!.reportUnreachable(UInt64(cmd.positional[1])!)
        case "report-snapshot":
            cluster.nodes[try id(cmd)]!.reportSnapshot(UInt64(cmd.positional[1])!, succeeded: cmd.positional[2] == "ok")
        case "tick":
            cluster.tick(try id(cmd), Int(cmd.positional[1])!)
        case "tick-heartbeat":
            let r = try id(cmd)
            cluster.tick(r, cluster.raft(r).heartbeatTimeout)
        case "tick-election":
            let r = try id(cmd)
            let raft = cluster.raft(r)
            let n = raft.state == .leader ? raft.electionTimeout
                : max(1, raft.randomizedElectionTimeout - raft.electionElapsed)
            cluster.tick(r, n)
        case "process-ready":
            for r in targets(cmd) { cluster.processReady(r) }
        case "deliver-msgs":
            let only = cmd.positionalIDs.isEmpty ? nil : Set(cmd.positionalIDs)
            cluster.deliver(to: only, drop: Set(cmd.ids("drop") ?? []))
        case "stabilize":
            cluster.stabilize(cmd.positionalIDs.isEmpty ? nil : Set(cmd.positionalIDs))
        case "isolate":
            cluster.isolated.insert(try id(cmd))
        case "heal":
            cluster.isolated.removeAll()
        case "raft-state":
            for r in cluster.ids { print(stateLine(r)) }
        case "raft-log":
            let r = try id(cmd)
            let s = cluster.storages[r]!
            let ents = s.lastIndex() >= s.firstIndex() ? try s.entries(s.firstIndex(), s.lastIndex() + 1, maxBytes: .max) : []
            if ents.isEmpty { print("log is empty: first index=\(s.firstIndex()), last index=\(s.lastIndex())") }
            for e in ents { print(describe(e)) }
        case "status":
            try printStatus(try id(cmd))
        case "applied":
            let r = try id(cmd)
            print("applied: " + cluster.appliedStrings(r).joined(separator: " "))
        case "compact":
            // Snapshot at the applied index (with the applied data), then compact the log
            // up to `index` (which must not exceed it).
            let r = try id(cmd)
            let index = UInt64(cmd.positional[1])!
            let t = cluster.testStorages[r]!
            guard index <= t.appliedIndex else { throw ScenarioError("compact beyond applied index") }
            if t.appliedIndex > (try cluster.storages[r]!.snapshot()).metadata.index {
                try cluster.storages[r]!.createSnapshot(index: t.appliedIndex, confState: t.appliedConfState, data: t.appliedData)
            }
            try cluster.storages[r]!.compact(upTo: index)
            print("first index=\(cluster.storages[r]!.firstIndex()) last index=\(cluster.storages[r]!.lastIndex())")
        default:
            throw ScenarioError("unknown command \(cmd.name)")
        }
    }

    private func targets(_ cmd: ScenarioCommand) -> [ReplicaID] {
        cmd.positionalIDs.isEmpty ? cluster.ids : cmd.positionalIDs
    }

    private func addNodes(_ cmd: ScenarioCommand) throws {
        guard let n = cmd.positional.first.flatMap({ Int($0) }) else { throw ScenarioError("add-nodes N") }
        let cs = ConfState(voters: cmd.ids("voters") ?? [], learners: cmd.ids("learners") ?? [])
        let index = UInt64(cmd.int("index") ?? 0)
        let first = UInt64(cluster.nodes.count + 1)
        for r in first..<(first + UInt64(n)) {
            try cluster.add(r, confState: cs, snapshotIndex: index) { c in
                c.preVote = cmd.bool("pre-vote") ?? false
                c.checkQuorum = cmd.bool("check-quorum") ?? false
                if cmd.keyed["read-only"] == "lease" { c.readOnlyOption = .leaseBased }
                if cmd.bool("forwarding") == false { c.disableProposalForwarding = true }
                if let k = cmd.int("max-inflight") { c.maxInflightMsgs = k }
                if let b = cmd.int("max-size") { c.maxSizePerMsg = UInt64(b) }
                if let b = cmd.int("max-uncommitted") { c.maxUncommittedEntriesSize = UInt64(b) }
                if let e = cmd.int("election") { c.electionTicks = e }
                c.applied = index
            }
            print(stateLine(r) + " " + describe(cluster.node(r).status.confState))
        }
    }

    private func stateLine(_ r: ReplicaID) -> String {
        let raft = cluster.raft(r)
        let role = raft.isLearner ? "learner" : (raft.tracker.progress.contains(r) ? "voter" : "not member")
        return "\(r): \(describe(raft.state)) (\(role)) term=\(raft.term) lead=\(raft.lead) commit=\(raft.log.committed)"
            + " applied=\(raft.log.applied) last=\(raft.log.lastIndex)"
    }

    private func printStatus(_ r: ReplicaID) throws {
        let raft = cluster.raft(r)
        guard raft.state == .leader else {
            print("\(r) is \(describe(raft.state)), no progress")
            return
        }
        print("config: \(raft.tracker.config)" + (raft.leadTransferee != 0 ? " transferee=\(raft.leadTransferee)" : ""))
        for (i, peer) in raft.tracker.progress.ids.enumerated() {
            let pr = raft.tracker.progress.values[i]
            var s = "\(peer): \(pr.state) match=\(pr.match) next=\(pr.next)"
            if pr.isLearner { s += " learner" }
            if pr.isPaused { s += " paused" }
            if pr.pendingSnapshot > 0 { s += " pendingSnap=\(pr.pendingSnapshot)" }
            if pr.inflights.count > 0 { s += " inflight=\(pr.inflights.count)" }
            print(s)
        }
    }
}

struct ScenarioError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
