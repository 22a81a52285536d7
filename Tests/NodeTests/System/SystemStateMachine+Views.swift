import MVCC
@testable import Node

/// Views of range 1's lease records that the tests compare against their models (the
/// runtime reads `SystemStateMachine.leaseEntries` whole).
extension SystemStateMachine {
    /// Every recorded lease (revoking ones included): ID → granted TTL.
    static func leases(_ store: MVCCStore) throws -> [Int64: Int64] {
        try leaseEntries(store).mapValues(\.ttl)
    }

    /// Every recorded lease: ID → the revision of the write that granted it (the record's
    /// create revision in range 1: `LeaseRecord.grantRevision`).
    static func leaseGrantRevisions(_ store: MVCCStore) throws -> [Int64: Int64] {
        try leaseEntries(store).mapValues(\.grantRevision)
    }

    /// The leases whose revoke has begun and not finished (marked, not removed).
    static func revokingLeases(_ store: MVCCStore) throws -> Set<Int64> {
        Set(try leaseEntries(store).filter(\.value.revoking).map(\.key))
    }
}
