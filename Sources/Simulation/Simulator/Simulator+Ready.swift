public import Base
public import RaftCore

/// Ready handling, in the order the `Ready` contract prescribes: persist (possibly cut
/// by a crash), observe commits, send, apply, advance — with every checker fed as the
/// replica's state changes.
extension Simulator {
    /// Handles every Ready replica `i` has.
    mutating func drain(_ i: Int) throws(SafetyViolation) {
        while replicas[i].node?.hasReady() == true {
            let rd = replicas[i].node!.ready()
            try handle(rd, at: i)
            guard replicas[i].isRunning else {
                if replicas[i].restartAfterCrash {
                    replicas[i].restartAfterCrash = false
                    try start(i)
                }
                return
            }
            replicas[i].node!.advance(rd)
            try maybeSnapshot(i)
        }
    }

    mutating func handle(_ rd: Ready, at i: Int) throws(SafetyViolation) {
        let id = replicas[i].id
        let storage = replicas[i].storage
        if let hs = rd.hardState { replicas[i].term = hs.term }
        var becameLeader = false
        if let ss = rd.softState {
            let wasLeader = replicas[i].role == .leader
            replicas[i].role = ss.role
            replicas[i].leader = ss.leader
            trace.record(.role(id, term: replicas[i].term, role: ss.role, leader: ss.leader), step: clock.now)
            if ss.role == .leader && !wasLeader {
                becameLeader = true
                stats.leadersElected += 1
            }
        }
        if replicas[i].role == .leader {
            try electionSafety.observeLeader(id, term: replicas[i].term)
        }

        // 1. Persist: [snapshot] [entries...] [hard state], possibly torn by a crash.
        let records = (rd.snapshot != nil ? 1 : 0) + rd.entries.count + (rd.hardState != nil ? 1 : 0)
        // A pending crash strikes after `crashPoint` records: part-way through the write,
        // after it but before sending (== records), or after sending, before applying.
        var crashPoint = Int.max
        if replicas[i].tornWritePending && records > 0 { crashPoint = rng.int(in: 0...(records + 1)) }
        let limit = min(crashPoint, records)
        var written = 0
        if let snap = rd.snapshot, written < limit {
            storage.applySnapshot(snap)
            written += 1
        }
        if !rd.entries.isEmpty && written < limit {
            let n = min(rd.entries.count, limit - written)
            let slice = rd.entries[0..<n]
            storage.append(n == rd.entries.count ? rd.entries : Array(slice))
            written += n
            let offset = storage.offsetIndex
            let kept = slice.drop(while: { $0.index <= offset })
            if let first = kept.first {
                try logMatching.observeAppend(id, prevTerm: storage.termIfPresent(first.index - 1) ?? 0, entries: kept)
            }
        }
        if let hs = rd.hardState, written < limit {
            storage.setHardState(hs, sync: rd.mustSync)
            written += 1
        }
        if written < records {
            if written > 0 { storage.sync() }
            crash(i, recordsPersisted: written, recordsInReady: records)
            return
        }
        if crashPoint == records {
            if rd.mustSync { storage.sync() }
            trace.record(.note("r\(id) persisted its Ready and crashes before sending"), step: clock.now)
            crash(i, recordsPersisted: records, recordsInReady: records)
            return
        }
        if records > 0 {
            trace.record(.persisted(id, entries: rd.entries.count, lastIndex: storage.lastIndex(), hardState: rd.hardState,
                                    snapshot: rd.snapshot?.metadata.index ?? 0), step: clock.now)
        }

        // 2. Commit index and leader completeness, on the now durable log.
        if let hs = rd.hardState, hs.commit != replicas[i].commit {
            try observeCommit(i, hs.commit, currentTerm: hs.term)
        }
        if becameLeader {
            try leaderCompleteness.checkLeader(id, term: replicas[i].term, log: storage, committed: committed)
        }

        for rs in rd.readStates {
            if let read = Workload.proposalID(rs.context) { try reads.observe(id, id: read, readIndex: rs.index) }
        }

        // 3. Send.
        send(rd.messages)
        if crashPoint == records + 1 {
            if rd.mustSync { storage.sync() }
            trace.record(.note("r\(id) sent its Ready's messages and crashes before applying"), step: clock.now)
            crash(i, recordsPersisted: records, recordsInReady: records)
            return
        }
        if options.lyingDisk && rd.messages.contains(where: { $0.type == .requestVoteResponse && !$0.reject }) {
            // Self-test only: crash right after voting, on a disk that forgets the vote.
            crash(i)
            replicas[i].restartAfterCrash = true
            return
        }

        // 4. Apply.
        if let snap = rd.snapshot {
            guard let restored = DigestStateMachine(snapshot: snap) else {
                throw SafetyViolation(.contract, "replica \(id) got a snapshot it cannot install at \(snap.metadata.index)")
            }
            replicas[i].machine = restored
            storage.appliedMachine = restored
            stats.snapshotsInstalled += 1
            trace.record(.snapshotInstalled(id, index: snap.metadata.index), step: clock.now)
            try stateMachine.observeApplied(id, index: restored.appliedIndex, digest: restored.digest)
        }
        if !rd.committedEntries.isEmpty {
            for entry in rd.committedEntries { try apply(entry, at: i) }
            storage.appliedMachine = replicas[i].machine
            switch options.applyPersistence {
            case .everyReady: replicas[i].persistAppliedState()
            case .lazy(let p): if rng.chance(p) { replicas[i].persistAppliedState() }
            }
        }
    }

    /// Records that replica `i` (in term `currentTerm`) now has commit index `commit`.
    mutating func observeCommit(_ i: Int, _ commit: UInt64, currentTerm: UInt64) throws(SafetyViolation) {
        let id = replicas[i].id
        try commitIndexes.observeCommitIndex(id, commit)
        trace.record(.commit(id, commit: commit, term: currentTerm), step: clock.now)
        var index = max(replicas[i].commit, replicas[i].storage.offsetIndex) + 1
        while index <= commit {
            if let t = replicas[i].storage.termIfPresent(index) {
                try observeCommitted(id, index: index, term: t, currentTerm: currentTerm)
            }
            index += 1
        }
        replicas[i].commit = max(replicas[i].commit, commit)
    }

    /// Feeds one committed entry to the committed-log checker and, if it is new, checks
    /// that every current leader of a later term holds it.
    mutating func observeCommitted(_ id: ReplicaID, index: UInt64, term: UInt64, currentTerm: UInt64) throws(SafetyViolation) {
        if try committed.observeCommitted(id, index: index, term: term, currentTerm: currentTerm) {
            for l in leaderIndices {
                try leaderCompleteness.checkEntry(replicas[l].id, term: replicas[l].term, log: replicas[l].storage,
                                                  index: index, committed: committed)
            }
        }
    }

    /// Applies one committed entry on replica `i`.
    mutating func apply(_ entry: Entry, at i: Int) throws(SafetyViolation) {
        let id = replicas[i].id
        guard entry.index == replicas[i].machine.appliedIndex + 1 else {
            throw SafetyViolation(.contract, "replica \(id) was handed committed entry \(entry.index) after applying \(replicas[i].machine.appliedIndex)")
        }
        if entry.type == .confChange {
            let change: ConfChange
            do {
                change = try ConfChange(decoding: entry.data)
            } catch {
                throw SafetyViolation(.contract, "replica \(id) cannot decode conf change at \(entry.index): \(error)")
            }
            let before = replicas[i].machine.confState
            let after = replicas[i].node!.applyConfChange(change)
            replicas[i].machine.confState = after
            stats.confChangesApplied += 1
            trace.record(.applyConfChange(id, index: entry.index, after), step: clock.now)
            let removed = SimReplica.members(before).subtracting(SimReplica.members(after)).sorted()
            for gone in removed where !pendingRetirements.contains(where: { $0.replica == gone }) {
                pendingRetirements.append(PendingRetirement(replica: gone, index: entry.index,
                                                            members: SimReplica.members(after).sorted()))
            }
        }
        replicas[i].machine.apply(entry)
        try stateMachine.observeApplied(id, index: entry.index, digest: replicas[i].machine.digest)
        try observeCommitted(id, index: entry.index, term: entry.term, currentTerm: replicas[i].term)
        if entry.type == .normal, let proposal = Workload.proposalID(entry.data), appliedAt[proposal] == nil {
            appliedAt[proposal] = entry.index
        }
    }

    /// Creates a snapshot and compacts the log once enough entries were applied.
    mutating func maybeSnapshot(_ i: Int) throws(SafetyViolation) {
        let interval = options.snapshotIntervalEntries
        guard interval > 0 else { return }
        let storage = replicas[i].storage
        let applied = replicas[i].machine.appliedIndex
        guard applied >= storage.latestSnapshot.metadata.index + interval else { return }
        replicas[i].persistAppliedState()
        storage.createSnapshot(index: applied, confState: replicas[i].machine.confState, data: replicas[i].machine.snapshotData)
        stats.snapshotsCreated += 1
        trace.record(.snapshotCreated(replicas[i].id, index: applied), step: clock.now)
        if applied > options.compactionLagEntries {
            storage.compact(upTo: applied - options.compactionLagEntries)
        }
    }

    /// Stops removed replicas once nobody can need them any more.
    mutating func retireRemovedReplicas() throws(SafetyViolation) {
        var k = 0
        while k < pendingRetirements.count {
            let p = pendingRetirements[k]
            let settled = p.members.allSatisfy { m in
                guard let j = indexOf[m] else { return true }
                return replicas[j].retired || replicas[j].durableMachine.appliedIndex >= p.index
            }
            if settled, let j = indexOf[p.replica] {
                replicas[j].node = nil
                replicas[j].retired = true
                stats.retired += 1
                trace.record(.retire(p.replica), step: clock.now)
                pendingRetirements.remove(at: k)
            } else {
                k += 1
            }
        }
    }
}
