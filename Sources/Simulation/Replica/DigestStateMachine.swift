public import Base
public import RaftCore

/// The simulated application state of one replica: a digest folding in every applied
/// entry (so two replicas with equal digests at an index applied identical prefixes), the
/// applied index and the membership produced by applied conf changes. Snapshots carry it
/// as 24 bytes. It owns no log; `SimReplica` feeds it committed entries in order.
public struct DigestStateMachine: Sendable, Hashable {
    public private(set) var appliedIndex: UInt64
    public private(set) var digest: UInt64
    /// Normal, non-empty entries applied (client proposals).
    public private(set) var appliedProposals: UInt64
    public var confState: ConfState

    static let initialDigest: UInt64 = 0x5EED_F107_111A_0001

    /// The state of a group bootstrapped at `index` with membership `confState`.
    public init(bootstrapIndex index: UInt64, confState: ConfState) {
        appliedIndex = index
        digest = Fingerprint.mix(Self.initialDigest, index)
        appliedProposals = 0
        self.confState = confState
    }

    /// Applies the next committed entry (which must be at `appliedIndex + 1`).
    public mutating func apply(_ entry: Entry) {
        precondition(entry.index == appliedIndex + 1, "applying index \(entry.index) after \(appliedIndex)")
        appliedIndex = entry.index
        var d = Fingerprint.mix(digest, entry.index)
        d = Fingerprint.mix(d, entry.term)
        d = Fingerprint.mix(d, UInt64(entry.type.rawValue))
        digest = Fingerprint.mix(d, Fingerprint.bytes(entry.data))
        if entry.type == .normal && !entry.data.isEmpty { appliedProposals += 1 }
    }

    /// The snapshot image (index, digest, proposal count; membership travels in metadata).
    public var snapshotData: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        for value in [appliedIndex, digest, appliedProposals] {
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return out
    }

    /// Restores the state a snapshot describes.
    public init?(snapshot: Snapshot) {
        guard snapshot.data.count == 24 else { return nil }
        func word(_ at: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(snapshot.data[at * 8 + k]) << UInt64(8 * k) }
            return v
        }
        appliedIndex = word(0)
        digest = word(1)
        appliedProposals = word(2)
        confState = snapshot.metadata.confState
        guard appliedIndex == snapshot.metadata.index else { return nil }
    }
}
