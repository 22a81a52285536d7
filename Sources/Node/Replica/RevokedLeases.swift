import Base
import MVCC

/// A range's record of revoked leases: lease ID → the newest grant of it whose revoke
/// applied in this range (the grant's revision in the system range, `LeaseGrant`). It is
/// what makes a put that attaches a lease AFTER the lease's revoke swept the range fail at
/// apply, on every replica alike (issue 6, finding 7, apply-time half).
///
/// Why grant revisions. A lease ID can be granted again after a revoke (etcd's Grant with
/// an explicit ID), so "L was revoked" alone would refuse puts of the new grant. Each grant
/// writes the record `lease/<id>` in the system range, and its create revision there (the
/// grant revision γ) identifies the grant: system-range revisions strictly increase and a
/// grant of a live ID is refused, so the grants of one ID have strictly increasing γ, and
/// grant γ2 > γ1 of L exists only after γ1's record was removed. The router's lookup tells
/// a put the γ of the grant it saw live, and the put names it (`RaftCommand.Body.granted`);
/// a revoke of grant γR names γR to every range, which records `max(recorded, γR)`.
/// At apply a put naming (L, γP) is refused iff `recorded[L] >= γP`:
/// - refused ⇒ a revoke of a grant γR ≥ γP of L applied here first: γR = γP is the put's
///   own grant being revoked (etcd orders the put after the revoke: lease not found); γR >
///   γP means γP was removed before γR was granted. Either way γP is not live when the put
///   applies, as seen from this range;
/// - a put of γP that applies after γP's sweep of this range is always refused (the sweep
///   recorded γP), so no key outlives its lease's revoke here; a put that applied before
///   the sweep is deleted by it;
/// - a re-grant γ' > γR is never refused by the old record.
/// A revoke marks the lease "revoking" in the system range before it sweeps any range, so a
/// grant refused here is already gone for every lookup; if the revoking router dies, the
/// lease expiry loop finishes the revoke (`Router.revokeExpiredLeases`).
///
/// Deterministic and bounded: the record changes only when a revoke entry applies (and is
/// copied whole by snapshots and split; merge takes the larger grant per lease, `merged`).
/// At most `capacity` leases are kept; beyond, the entry with the oldest grant (smallest
/// γ, then smallest ID) is evicted, a rule that depends only on the record's contents.
/// What the router's late re-check (`LateLeaseRechecks`) still covers: puts naming no grant
/// (γ unknown: entries written before this record existed, a lookup answered by an older
/// node) and grants evicted by the cap (more than `capacity` newer revokes here since).
///
/// Persisted as the range's opaque `MVCCStore.revokedLeases` bytes (committed with the
/// applied index, read back at open, carried in the snapshot header):
/// `[u8 version = 1][u32 n]` then n × `[i64 lease][i64 grantRevision]` in lease order.
struct RevokedLeases: Equatable {
    static let capacity = 1_024
    static let version: UInt8 = 1

    private(set) var grants: [Int64: Int64] = [:]

    init() {}

    var isEmpty: Bool { grants.isEmpty }

    /// Whether an attach of `lease` under grant `grantRevision` must be refused (0: the
    /// grant is unknown, never refused).
    func refuses(_ lease: Int64, grantRevision: Int64) -> Bool {
        guard grantRevision > 0, let revoked = grants[lease] else { return false }
        return grantRevision <= revoked
    }

    /// Records that grant `grantRevision` of `lease` was revoked (a no-op for 0).
    mutating func record(_ lease: Int64, grantRevision: Int64) {
        guard grantRevision > 0 else { return }
        grants[lease] = max(grants[lease] ?? 0, grantRevision)
        evictOverCapacity()
    }

    /// The record of a range merged from `a` and `b`: the newer grant per lease, capped.
    static func merged(_ a: RevokedLeases, _ b: RevokedLeases) -> RevokedLeases {
        var out = a
        out.grants.merge(b.grants) { max($0, $1) }
        out.evictOverCapacity()
        return out
    }

    private mutating func evictOverCapacity() {
        guard grants.count > Self.capacity else { return }
        if grants.count == Self.capacity + 1 {
            // The common case (one revoke recorded at a time): drop the one oldest grant
            // in a linear pass instead of sorting the whole record per revoke.
            let oldest = grants.min { ($0.value, $0.key) < ($1.value, $1.key) }!
            grants[oldest.key] = nil
            return
        }
        let doomed = grants.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.prefix(grants.count - Self.capacity)
        for (lease, _) in doomed { grants[lease] = nil }
    }

    // MARK: encoding

    func encoded() -> [UInt8] {
        guard !grants.isEmpty else { return [] }
        var w = BinaryWriter(capacity: 5 + grants.count * 16)
        w.write(Self.version)
        w.write(UInt32(grants.count))
        for (lease, grant) in grants.sorted(by: { $0.key < $1.key }) {
            w.write(lease)
            w.write(grant)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DecodingError) -> RevokedLeases {
        var out = RevokedLeases()
        guard !bytes.isEmpty else { return out }
        let r: Result<RevokedLeases, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try reader.read(UInt8.self)
                guard v == version else { throw DecodingError("unknown revoked-leases version \(v)", offset: 0) }
                let n = Int(try reader.read(UInt32.self))
                guard n <= reader.remaining / 16 else { throw DecodingError("count \(n) too large", offset: 1) }
                for _ in 0..<n {
                    let lease = try reader.read(Int64.self)
                    out.grants[lease] = try reader.read(Int64.self)
                }
                guard reader.isAtEnd else { throw DecodingError("trailing bytes after revoked leases", offset: reader.offset) }
                return .success(out)
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }

    /// The record stored in `store` (a malformed one is a corrupt range: fatal to the caller).
    static func load(from store: MVCCStore) throws -> RevokedLeases {
        do {
            return try decode(store.revokedLeases)
        } catch {
            throw MVCCError.corruptMetadata("range \(store.rangeID): revoked leases: \(error)")
        }
    }
}
