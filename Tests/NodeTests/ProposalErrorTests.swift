import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    @Suite struct ProposalErrorTests {
        @Test func followerAnswersNotLeaderWithHintAndUnknownRangeIsNotFound() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = c.leader(of: range)!
            let follower = c.hosts.keys.first { $0 != leader }!
            #expect(await c.eventually { c.hosts[follower]!.leaderHint(of: range) == leader })
            await #expect(throws: ProposalError.notLeader(leaderHint: leader)) {
                try await c.hosts[follower]!.propose(.put(PutRequest(key: [1], value: [1])), to: range)
            }
            await #expect(throws: ProposalError.rangeNotFound(RangeID(999))) {
                try await c.hosts[leader]!.propose(.noOp, to: RangeID(999))
            }
            let d = c.hosts[leader]!.descriptor(of: range)!
            var stale = d.epoch
            stale.version += 1
            await #expect(throws: ProposalError.epochMismatch(current: d)) {
                try await c.hosts[leader]!.propose(.noOp, to: range, epoch: stale)
            }
            // An MVCC error comes back from apply: ignore_value on a missing key.
            await #expect(throws: ProposalError.rejected(.keyNotFound)) {
                try await c.hosts[leader]!.propose(.put(PutRequest(key: [1, 2], ignoreValue: true)), to: range)
            }
        }

        @Test func proposalOnAnIsolatedLeaderFailsWhenItStepsDown() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let old = c.leader(of: range)!
            for n in c.hosts.keys where n != old { c.network.partition(old, n) }
            let key: [UInt8] = [0x10, 1]
            // Check-quorum makes the isolated leader step down; its unreplicated entry cannot apply.
            await #expect(throws: ProposalError.proposalDropped("leader changed; the write may still apply")) {
                try await c.hosts[old]!.propose(.put(PutRequest(key: key, value: [1])), to: range)
            }
            for n in c.hosts.keys where n != old { c.network.partition(old, n, cut: false) }
            _ = try await c.put([0x10, 2], [2])
            for n in c.hosts.keys {
                #expect(await c.eventually { c.value(on: n, [0x10, 2]) == [2] })
                #expect(c.value(on: n, key) == nil, "the dropped write never applied on \(n)")
            }
        }

        @Test func dataDirectoryOfAnotherNodeIsRefused() throws {
            let dir = NSTemporaryDirectory() + "flotilla-id-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try DataDirectory.prepare(path: dir, node: NodeID(1))
            let attrs = try FileManager.default.attributesOfItem(atPath: dir)
            #expect((attrs[.posixPermissions] as? Int) == 0o700)
            #expect(throws: DataDirectory.Failure.self) { try DataDirectory.prepare(path: dir, node: NodeID(2)) }
            let (_, fresh) = try DataDirectory.prepare(path: dir, node: NodeID(1))
            #expect(!fresh)
        }
    }

    /// Linearizable reads through ReadIndex.
    @Suite struct ReadIndexTests {
        @Test func leaderServesLinearizableReadsAndFollowersRedirect() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[1]
            let key = c.key(range: 1, "r")
            let put = try await c.put(key, [5])
            let leader = try #require(c.leader(of: range))
            let resp = try await c.hosts[leader]!.read(RangeRequest(key: key), in: range)
            #expect(resp.kvs.map(\.value) == [[5]] && resp.revision == put.revision)
            let follower = c.hosts.keys.first { $0 != leader }!
            await #expect(throws: ProposalError.notLeader(leaderHint: leader)) {
                try await c.hosts[follower]!.read(RangeRequest(key: key), in: range)
            }
            // A quiesced leader wakes for a read and still answers.
            #expect(await c.eventually { c.hosts[leader]!.isQuiesced(range) })
            let again = try await c.hosts[leader]!.read(RangeRequest(key: key), in: range)
            #expect(again.kvs.map(\.value) == [[5]])
        }
    }
}
