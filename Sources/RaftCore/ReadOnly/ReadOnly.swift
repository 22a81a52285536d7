import Base

/// One pending ReadIndex request at the leader: the commit index when it arrived and
/// which voters have acknowledged a heartbeat carrying its context since.
struct ReadIndexStatus {
    var request: Message
    var index: UInt64
    var acks: Set<ReplicaID>
}

/// The leader's queue of ReadIndex requests awaiting leadership confirmation
/// (`ReadOnlyOption.safe`), in arrival order. A quorum acknowledging a request also
/// confirms every request queued before it.
struct ReadOnly {
    let option: ReadOnlyOption
    private var pending: [[UInt8]: ReadIndexStatus] = [:]
    private var queue: [[UInt8]] = []

    init(option: ReadOnlyOption) { self.option = option }

    var isEmpty: Bool { queue.isEmpty }

    /// Queues `request` (its `context` identifies it) to be served at `index`.
    mutating func addRequest(index: UInt64, _ request: Message) {
        let ctx = request.context
        if pending[ctx] != nil { return }
        pending[ctx] = ReadIndexStatus(request: request, index: index, acks: [])
        queue.append(ctx)
    }

    /// Records `id`'s heartbeat acknowledgement of `context`; returns who acknowledged it.
    mutating func recvAck(from id: ReplicaID, context: [UInt8]) -> Set<ReplicaID>? {
        guard pending[context] != nil else { return nil }
        pending[context]!.acks.insert(id)
        return pending[context]!.acks
    }

    /// Removes and returns every request up to and including the one with `context`.
    mutating func advance(context: [UInt8]) -> [ReadIndexStatus] {
        guard let position = queue.firstIndex(of: context) else { return [] }
        let done = queue[...position]
        let result = done.compactMap { pending.removeValue(forKey: $0) }
        queue.removeFirst(position + 1)
        return result
    }

    /// The context of the newest pending request (carried by heartbeats).
    var lastPendingRequestContext: [UInt8] { queue.last ?? [] }
}
