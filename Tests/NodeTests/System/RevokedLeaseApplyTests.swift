import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Issue 6, finding 7 (apply-time half): a put attaching lease L that applies in a range
    /// AFTER the revoke of L swept that range fails at apply with etcd's "requested lease not
    /// found" and changes nothing, on every replica; a re-grant of the ID is not refused; the
    /// range's record survives restarts and travels in snapshots.
    @Suite struct RevokedLeaseApplyTests {
        static let lease: Int64 = 42
        static let grant = LeaseGrant(lease: lease, grantRevision: 7)

        func revoke(_ c: TestCluster, _ grant: LeaseGrant, range: RangeID) async throws {
            guard case .revokeLease = try await c.propose(.granted([grant], .revokeLease(grant.lease)), range: range) else {
                throw ProposalError.proposalDropped("unexpected result")
            }
        }

        func expectRefused(_ c: TestCluster, _ body: RaftCommand.Body, range: RangeID,
                           sourceLocation: SourceLocation = #_sourceLocation) async {
            await #expect(throws: ProposalError.rejected(.leaseNotFound), sourceLocation: sourceLocation) {
                try await c.propose(body, range: range)
            }
        }

        /// The scenario of finding 7: the put's lookup saw the lease (it names the grant), the
        /// revoke swept the range, then the put applies: it must fail and leave no key.
        @Test func lateAttachAfterTheRevokeFailsAtApplyAndLeavesNoKey() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let early = c.key(range: 0, "early")
            _ = try await c.propose(.granted([Self.grant], .put(PutRequest(key: early, value: [1], lease: Self.lease))),
                                    range: range)
            try await revoke(c, Self.grant, range: range)
            let late = c.key(range: 0, "late")
            await expectRefused(c, .granted([Self.grant], .put(PutRequest(key: late, value: [1], lease: Self.lease))),
                                range: range)
            // A txn whose taken branch attaches the lease fails whole (its other put too).
            let other = c.key(range: 0, "other")
            let txn = TxnRequest(success: [.put(PutRequest(key: other, value: [2])),
                                           .put(PutRequest(key: late, value: [1], lease: Self.lease))])
            await expectRefused(c, .granted([Self.grant], .txn(txn)), range: range)
            // Nested, in the failure branch the compare takes.
            let nested = TxnRequest(compare: [Compare(key: other, target: .version(5), result: .equal)],
                                    failure: [.txn(TxnRequest(success: [.put(PutRequest(key: late, lease: Self.lease))]))])
            await expectRefused(c, .granted([Self.grant], .txn(nested)), range: range)
            // A txn whose branch NOT taken attaches the lease applies (etcd checks the taken path).
            let untaken = TxnRequest(compare: [Compare(key: other, target: .version(0), result: .equal)],
                                     success: [.put(PutRequest(key: other, value: [3]))],
                                     failure: [.put(PutRequest(key: late, value: [1], lease: Self.lease))])
            guard case .txn(let t) = try await c.propose(.granted([Self.grant], .txn(untaken)), range: range) else {
                Issue.record("unexpected result")
                return
            }
            #expect(t.succeeded)
            // Another lease in the same range is unaffected.
            _ = try await c.propose(.granted([LeaseGrant(lease: 43, grantRevision: 7)],
                                             .put(PutRequest(key: c.key(range: 0, "l43"), value: [1], lease: 43))),
                                    range: range)
            for n in c.hosts.keys {
                let ok = await c.eventually { c.value(on: n, c.key(range: 0, "l43")) == [1] }
                #expect(ok, "node \(n) applied the last put")
                #expect(c.value(on: n, other) == [3])
                let store = c.hosts[n]!.store(for: range)!
                #expect(try store.keys(attachedTo: Self.lease).isEmpty, "node \(n): a key is attached to the revoked lease")
                #expect(try store.range(RangeRequest(key: late)).kvs.isEmpty, "node \(n) holds the refused put's key")
                #expect(try store.range(RangeRequest(key: early)).kvs.isEmpty, "node \(n): the sweep missed a key")
                #expect(try store.keys(attachedTo: 43).count == 1)
                #expect(!store.revokedLeases.isEmpty, "node \(n) recorded no revoke")
            }
            // The other range saw no revoke: the same put applies there.
            _ = try await c.propose(.granted([Self.grant], .put(PutRequest(key: c.key(range: 1, "x"), value: [1], lease: Self.lease))),
                                    range: c.rangeIDs[1])
        }

        /// A re-grant of the ID (etcd's Grant with an explicit ID) has a newer grant revision:
        /// the old record does not refuse it, while the old grant stays refused.
        @Test func regrantOfTheSameIDIsNotRefused() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let h = c.hosts[try #require(await c.systemLeader())]!
            let first = try #require(try await h.leaseGrant(id: Self.lease, ttl: 60))
            #expect(first.grantRevision > 0)
            #expect(try await h.leaseLookup(id: Self.lease)?.grantRevision == first.grantRevision)
            let firstGrant = LeaseGrant(lease: Self.lease, grantRevision: first.grantRevision)
            try await revoke(c, firstGrant, range: range)
            #expect(try await h.leaseRemove(id: Self.lease))
            let second = try #require(try await h.leaseGrant(id: Self.lease, ttl: 60))
            #expect(second.grantRevision > first.grantRevision)
            let key = c.key(range: 0, "k")
            _ = try await c.propose(.granted([LeaseGrant(lease: Self.lease, grantRevision: second.grantRevision)],
                                             .put(PutRequest(key: key, value: [1], lease: Self.lease))), range: range)
            await expectRefused(c, .granted([firstGrant], .put(PutRequest(key: key, value: [2], lease: Self.lease))),
                                range: range)
            for n in c.hosts.keys {
                #expect(await c.eventually { c.value(on: n, key) == [1] }, "node \(n) has the re-granted lease's key")
            }
            // A put naming no grant (an older router) is never refused.
            _ = try await c.propose(.put(PutRequest(key: c.key(range: 0, "plain"), value: [1], lease: Self.lease)), range: range)
        }

        /// The record is committed with the applied index and read back at open (a clean
        /// stop), and rebuilt by replaying the WAL after a kill without the final commit.
        @Test func recordSurvivesRestartAndCrash() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            try await revoke(c, Self.grant, range: range)
            for n in c.hosts.keys {
                #expect(await c.eventually { c.hosts[n]?.store(for: range)?.revokedLeases.isEmpty == false })
            }
            let recorded = c.hosts.values.first!.store(for: range)!.revokedLeases
            for (node, flush) in [(NodeID(1), true), (NodeID(2), false)] {
                c.stop(node, flush: flush)
                try c.start(node)
                #expect(await c.eventually { c.hosts[node]?.store(for: range)?.revokedLeases == recorded },
                        "node \(node) (flush \(flush)) lost the record")
            }
            let late = c.key(range: 0, "late")
            await expectRefused(c, .granted([Self.grant], .put(PutRequest(key: late, value: [1], lease: Self.lease))),
                                range: range)
        }

        /// A replica that missed the revoke and catches up by snapshot gets the record.
        @Test func snapshotCarriesTheRecord() async throws {
            let c = try TestCluster(ranges: 2) { cfg in
                cfg.walSegmentBytes = 16 << 10
                cfg.walGCIntervalMs = 50
            }
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            _ = try await c.put(c.key(range: 0, "first"), [0])
            let n3 = NodeID(3)
            c.stop(n3)
            try await revoke(c, Self.grant, range: range)
            let value = [UInt8](repeating: 0xAB, count: 512)
            for j in 0..<200 { _ = try await c.put(c.key(range: 0, "k\(j)"), value) }
            #expect(await c.eventually { c.hosts.values.allSatisfy { $0.metrics.walSegmentsDeleted > 0 } })
            let recorded = try #require(c.hosts.values.first?.store(for: range)?.revokedLeases)
            #expect(!recorded.isEmpty)
            try c.start(n3)
            #expect(await c.eventually { c.hosts[n3]!.metrics.snapshotsReceived >= 1 }, "node 3 caught up by snapshot")
            #expect(await c.eventually { c.hosts[n3]?.store(for: range)?.revokedLeases == recorded },
                    "the snapshot carried the revoked-lease record")
        }
    }
}
