import Base
@testable import RaftCore

/// Helpers for white-box tests of the `Raft` state machine over a `MemoryStorage`.

/// Entries with the given terms at indexes 1, 2, ...
func entries(terms: [UInt64], from first: UInt64 = 1) -> [Entry] {
    terms.enumerated().map { Entry(term: $0.element, index: first + UInt64($0.offset)) }
}

func newRaft(_ id: ReplicaID, peers: [ReplicaID], election: Int = 10, heartbeat: Int = 1,
             log: [Entry] = [], hardState: HardState? = nil, learners: [ReplicaID] = [],
             configure: (inout RaftConfig) -> Void = { _ in }) -> Raft {
    let storage = MemoryStorage(voters: peers, learners: learners)
    storage.append(log)
    if let hardState { storage.setHardState(hardState) }
    var config = RaftConfig(id: id, electionTicks: election, heartbeatTicks: heartbeat, checkQuorum: false,
                            preVote: false, randomSeed: id)
    configure(&config)
    return try! Raft(config: config, storage: storage)
}

extension Raft {
    /// Takes the queued outgoing messages.
    mutating func readMessages() -> [Message] {
        flushBroadcast()
        defer { msgs = [] }
        return msgs
    }

    /// Persists and "applies" everything, like an application handling a Ready.
    mutating func persistAll() {
        let unstable = log.unstable.entries
        (log.storage as! MemoryStorage).append(unstable)
        if let last = unstable.last { log.stableTo(index: last.index, term: last.term) }
        if log.committed > log.applied { appliedTo(log.committed) }
    }
}

func appendMessage(from: ReplicaID, to: ReplicaID, term: UInt64, logTerm: UInt64, index: UInt64,
                   entries: [Entry] = [], commit: UInt64 = 0) -> Message {
    Message(type: .append, to: to, from: from, term: term, logTerm: logTerm, index: index, entries: entries,
            commit: commit)
}
