import Base
import Foundation
import MVCC
import Node
import Testing

extension NodeClusterTests {
    /// Per-range change feeds on leaders and followers: every event once, in revision
    /// order, up to a resolved revision that never goes back.
    @Suite struct FeedTests {
        /// Pulls `range`'s feed on `host` from revision 1 until it resolved `target`;
        /// returns the events and every resolved value seen.
        static func drain(_ host: NodeHost, _ range: RangeID, until target: () -> Int64?,
                          seconds: Double = 30) async throws -> (events: [WatchEvent], resolved: [Int64]) {
            var events: [WatchEvent] = []
            var resolved: [Int64] = []
            var from: Int64 = 1
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                let item = try await host.nextFeedBatch(range: range, from: from, prevKV: false, maxEvents: 7, waitMs: 200)
                guard case .events(let batch, let r) = item else { Issue.record("unexpected \(item)"); break }
                events += batch
                resolved.append(r)
                from = max(from, r + 1)
                if let t = target(), r >= t { break }
            }
            return (events, resolved)
        }

        @Test func feedsDeliverEveryEventOnceInOrderOnLeaderAndFollower() async throws {
            let seed = UInt64.random(in: 0..<1_000_000)
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[1]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = try #require(c.leader(of: range))
            let follower = c.hosts.keys.sorted().first { $0 != leader }!
            // The follower's closes go to the leader as node-core calls (in-process here).
            c.hosts[follower]!.setRemoteCloser(NodeHost.remoteCloser(over: InProcessCalls(hosts: c.hosts)))
            let done = LockedBox<Int64?>(nil)
            async let onLeader = Self.drain(c.hosts[leader]!, range, until: { done.value })
            async let onFollower = Self.drain(c.hosts[follower]!, range, until: { done.value })
            let acked = try await GlobalRevisionTests.writeConcurrently(c, seed: seed, writers: 4, perWriter: 10)
            let mine = acked.filter { c.range(of: $0.key) == range }
            // A delete too: feeds carry tombstones.
            let victim = try #require(mine.first)
            guard case .deleteRange(let del) = try await c.propose(.deleteRange(DeleteRangeRequest(key: victim.key)),
                                                                   range: range, requestID: seed &+ 77)
            else { Issue.record("not a delete"); return }
            done.value = del.revision
            for (name, result) in [("leader", try await onLeader), ("follower", try await onFollower)] {
                let puts = result.events.filter { $0.kind == .put }
                #expect(puts.map(\.kv.modRevision) == mine.map(\.revision).sorted(),
                        "seed \(seed): \(name) feed has every put once, in revision order")
                #expect(Set(puts.map(\.kv.key)) == Set(mine.map(\.key)), "seed \(seed): \(name)")
                #expect(result.events.filter { $0.kind == .delete }.map(\.kv.modRevision) == [del.revision],
                        "seed \(seed): \(name) feed has the delete")
                #expect(zip(result.resolved, result.resolved.dropFirst()).allSatisfy { $0 <= $1 },
                        "seed \(seed): \(name) resolved never goes back")
                #expect(result.resolved.last ?? 0 >= del.revision, "seed \(seed): \(name) resolved reached the end")
            }
            #expect((c.hosts[follower]!.resolvedRevision(of: range) ?? 0) >= del.revision)
        }

        /// `range`'s next feed batch on `host` from `from`, the long poll cancelled after `within`.
        static func feed(_ host: NodeHost, _ range: RangeID, from: Int64,
                         within: Duration) async throws -> RangeFeedItem {
            let poll = Task {
                try await host.nextFeedBatch(range: range, from: from, prevKV: false, maxEvents: 100, waitMs: 3_600_000)
            }
            let timer = Task {
                try? await Task.sleep(for: within)
                poll.cancel()
            }
            defer { timer.cancel() }
            return try await poll.value
        }

        /// A replica resolves its range up to its last applied write without waiting for a
        /// close (the closer is set to run once an hour here): a feed gets each write as soon
        /// as it applied, on the leader and on a follower. With `resolveOnApply` off the same
        /// feeds stay empty, as closes are then the only way to resolve.
        @Test(arguments: [true, false])
        func appliedWritesResolveWithoutACloser(resolveOnApply: Bool) async throws {
            let seed = UInt64.random(in: 0..<1_000_000)
            var rng = SeededGenerator(seed: seed)
            let c = try TestCluster(ranges: 1, tune: {
                $0.closeIntervalMs = 3_600_000
                $0.resolveOnApply = resolveOnApply
            })
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = try #require(c.leader(of: range))
            let follower = c.hosts.keys.sorted().first { $0 != leader }!
            var from: [NodeID: Int64] = [leader: 1, follower: 1]
            for step in 0..<Int.random(in: 3...6, using: &rng) {
                let key = c.key(range: 0, "k\(Int.random(in: 0..<4, using: &rng))")
                let put = try await c.put(key, [UInt8(step)])
                for node in [leader, follower] {
                    // Parked polls expire on the closer's tick (hourly here): the test ends the
                    // poll itself by cancelling it, which answers with what is resolved then.
                    let item = try await Self.feed(c.hosts[node]!, range, from: from[node]!,
                                                   within: .milliseconds(resolveOnApply ? 20_000 : 300))
                    guard case .events(let events, let resolvedTo) = item else {
                        Issue.record("seed \(seed): unexpected \(item)"); return
                    }
                    if resolveOnApply {
                        #expect(events.map(\.kv.modRevision) == [put.revision] && resolvedTo >= put.revision,
                                "seed \(seed): node \(node) step \(step): \(events.map(\.kv.modRevision)) up to \(resolvedTo)")
                        from[node] = resolvedTo + 1
                    } else {
                        #expect(events.isEmpty && resolvedTo == 0, "seed \(seed): nothing resolves without closes")
                    }
                }
            }
        }

        /// A range without writes is closed when a consumer demands it (`demandClose`: a watch
        /// spanning ranges holds another range's events), not only at the closer's tick (an
        /// hour here): its feed on a follower resolves past a write made elsewhere at once, in
        /// one close round for several demands. With `closeOnDemand` off it stays unresolved.
        @Test(arguments: [true, false])
        func aDemandedCloseResolvesAnIdleRangeBeforeTheTick(closeOnDemand: Bool) async throws {
            let c = try TestCluster(ranges: 2, tune: {
                $0.closeIntervalMs = 3_600_000
                $0.closeOnDemand = closeOnDemand
            })
            defer { c.shutdown() }
            let (written, idle) = (c.rangeIDs[0], c.rangeIDs[1])
            #expect(await c.eventually { c.leader(of: written) != nil && c.leader(of: idle) != nil })
            let leader = try #require(c.leader(of: idle))
            let follower = c.hosts.keys.sorted().first { $0 != leader }!
            let host = c.hosts[follower]!
            host.setRemoteCloser(NodeHost.remoteCloser(over: InProcessCalls(hosts: c.hosts)))
            // A consumer of the idle range (tracked from now on), nothing resolved yet.
            let first = try await host.nextFeedBatch(range: idle, from: 1, prevKV: false, maxEvents: 10, waitMs: 0)
            guard case .events(let none, let resolvedBefore) = first, none.isEmpty else {
                Issue.record("unexpected \(first)"); return
            }
            let put = try await c.put(c.key(range: 0, "k"), [1])
            for _ in 0..<3 { host.demandClose(idle) }
            let item = try await Self.feed(host, idle, from: resolvedBefore + 1,
                                           within: .milliseconds(closeOnDemand ? 20_000 : 500))
            guard case .events(let events, let resolvedTo) = item else { Issue.record("unexpected \(item)"); return }
            #expect(events.isEmpty)
            if closeOnDemand {
                #expect(resolvedTo > put.revision, "closed above the write in the other range")
                #expect(host.closeRoundsOnDemand >= 1 && host.closeRoundsOnDemand <= 3)
            } else {
                #expect(resolvedTo == resolvedBefore && host.closeRoundsOnDemand == 0, "nothing closes before the tick")
            }
        }

        @Test func feedFromACompactedRevisionSaysSo() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            var last: Int64 = 0
            for i in 0..<3 { last = try await c.put(c.key(range: 0, "k"), [UInt8(i)]).revision }
            _ = try await c.propose(.compact(revision: last), range: range)
            let leader = try #require(c.leader(of: range))
            let item = try await c.hosts[leader]!.nextFeedBatch(range: range, from: 1, prevKV: false, maxEvents: 10, waitMs: 0)
            #expect(item == .compacted(compactRevision: last))
            await #expect(throws: ProposalError.rangeNotFound(RangeID(999))) {
                try await c.hosts[leader]!.nextFeedBatch(range: RangeID(999), from: 1, prevKV: false, maxEvents: 1, waitMs: 0)
            }
        }

        /// A feed asked for at another epoch than the replica's (a stale route) fails with
        /// the current descriptor instead of serving the replica's span.
        @Test func feedAtAStaleEpochFailsWithTheCurrentDescriptor() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            _ = try await c.put(c.key(range: 0, "k"), [1])
            let leader = try #require(c.leader(of: range))
            let h = c.hosts[leader]!
            let current = try #require(h.descriptor(of: range))
            let item = try await h.nextFeedBatch(range: range, epoch: current.epoch, from: 1, prevKV: false,
                                                 maxEvents: 10, waitMs: 0)
            guard case .events = item else { Issue.record("unexpected \(item)"); return }
            var stale = current.epoch
            stale.version &+= 1
            await #expect(throws: ProposalError.epochMismatch(current: current)) {
                try await h.nextFeedBatch(range: range, epoch: stale, from: 1, prevKV: false, maxEvents: 10, waitMs: 0)
            }
        }

        @Test func localReadAnswersAtTheResolvedRevision() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let range = c.rangeIDs[0]
            let key = c.key(range: 0, "x")
            _ = try await c.put(key, [1])
            let leader = try #require(c.leader(of: range))
            let h = c.hosts[leader]!
            _ = try h.localRead(RangeRequest(key: key), in: range)  // registers the consumer
            let second = try await c.put(key, [2]).revision
            #expect(await c.eventually { (h.resolvedRevision(of: range) ?? 0) >= second }, "the closer resolves it")
            let resp = try h.localRead(RangeRequest(key: key), in: range)
            #expect(resp.kvs.map(\.value) == [[2]] && resp.revision >= second)
            let old = try h.localRead(RangeRequest(key: key, revision: second - 1), in: range)
            #expect(old.kvs.map(\.value) == [[1]] && old.revision == second - 1)
            #expect(throws: ProposalError.rejected(.futureRevision)) {
                try h.localRead(RangeRequest(key: key, revision: resp.revision + 1_000_000), in: range)
            }
        }
    }
}

/// Node calls delivered straight to the hosts' node-core handler.
struct InProcessCalls: NodeCallTransport {
    let hosts: [NodeID: NodeHost]

    func call(_ node: NodeID, _ request: [UInt8], timeoutMs: Int) async throws(NodeCallError) -> [UInt8] {
        guard let h = hosts[node] else { throw .unreachable(node) }
        return await h.handleCoreCall(from: node, request)
    }
}

/// A value shared between test tasks.
final class LockedBox<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `stored` is only touched under `lock`.
    let lock = NSLock()
    var stored: T
    init(_ v: T) { stored = v }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
