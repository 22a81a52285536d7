public import Base

/// A broken Raft safety property, found by one of the checkers. Ends a simulated run.
public struct SafetyViolation: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Two leaders in one term (Raft paper §5.2).
        case electionSafety
        /// Two logs agree on (index, term) but differ at or before it (§5.3).
        case logMatching
        /// A leader lacks an entry committed in an earlier term (§5.4).
        case leaderCompleteness
        /// Two replicas applied different entries at one index (§5.4.3).
        case stateMachineSafety
        /// An index known committed with one term later holds another (committed entry lost).
        case committedEntryLost
        /// A replica's commit index went backwards while it was running.
        case commitRegressed
        /// A ReadIndex read was served at an index below a write committed before it began.
        case staleRead
        /// The cluster did not make progress after the faults stopped.
        case liveness
        /// The core broke its contract with the application (undecodable conf change,
        /// snapshot the application cannot install, failed restart).
        case contract
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// A read-only view of one replica's log as the checkers need it.
public protocol LogView {
    /// The term of the entry at `index`, or nil if the log does not hold it (compacted
    /// or beyond the end).
    func termIfPresent(_ index: UInt64) -> UInt64?
    /// The last compacted index: entries at or below it are covered by a snapshot (which
    /// only holds committed, state-machine-checked entries).
    var offsetIndex: UInt64 { get }
    /// The last index in the log.
    func lastIndex() -> UInt64
}

extension SimStorage: LogView {}

/// 64-bit fingerprints used by the checkers (FNV-1a, then a SplitMix finaliser).
public enum Fingerprint {
    /// Mixes one integer into a running fingerprint.
    @inline(__always)
    public static func mix(_ state: UInt64, _ value: UInt64) -> UInt64 {
        var z = (state ^ value) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fingerprint of a byte string.
    public static func bytes(_ data: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in data {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return mix(h, UInt64(data.count))
    }
}
