public import Base
public import RaftCore

/// Linearizable reads (ReadIndex, Raft thesis §6.4): a read must observe every write
/// that committed before the read was issued, so the read index a replica reports must
/// be at least the highest index known committed when the request was made. Owns the
/// reads in flight (request ID -> committed index at issue time).
public struct LinearizableReadChecker: Sendable {
    private var pending: [UInt64: UInt64] = [:]
    public private(set) var served = 0

    public init() {}

    /// Records a read request `id` issued when `committedIndex` was the highest index
    /// known committed anywhere.
    public mutating func issue(_ id: UInt64, committedIndex: UInt64) {
        pending[id] = committedIndex
    }

    /// Checks a read state a replica reported for request `id`.
    public mutating func observe(_ replica: ReplicaID, id: UInt64, readIndex: UInt64) throws(SafetyViolation) {
        guard let floor = pending[id] else { return }
        served += 1
        if readIndex < floor {
            throw SafetyViolation(.staleRead,
                "replica \(replica) served read #\(id) at index \(readIndex), but index \(floor) was committed before the read began")
        }
    }
}
