import API
import Base
import Foundation
import MVCC
import Node
@testable import Router
import Testing

extension NodeClusterAccessTests {
    /// Paused leader (robustness backlog, session 4): while a range's leader is stopped
    /// (SIGSTOP), its calls get no answer until the 10 s call timeout, and a timeout did not
    /// move the router's leader hint, so the range took no writes for the whole pause though
    /// the others elected a new leader within about one election timeout. An attempt now
    /// ends after `Config.attemptTimeout` and the retry (same request ID) goes elsewhere.
    @Suite struct PausedLeaderTests {
        @Test func writesAndReadsMoveOffAPausedLeader() async throws {
            // Calls to the paused node would hang for 60 s: far longer than the hang bound.
            let c = try AccessCluster(ranges: 2, callTimeoutMs: 60_000)
            defer { c.shutdown() }
            let user = c.bootstrap.descriptors.filter { $0.rangeID != .system }
            #expect(await c.everyRangeHasALeader())
            let d = try #require(user.first)
            let paused = try #require(c.leader(of: d.rangeID))
            let routerNode = c.bootstrap.nodes.first { $0 != paused }!
            if c.leader(of: .system) == paused {
                // The oracle is not this test's subject: keep the system range elsewhere.
                c.hosts[paused]!.transferLeadership(of: .system, to: routerNode)
                #expect(await c.eventually { c.leader(of: .system) == routerNode })
            }
            var config = Router.Config()
            config.attemptTimeout = .milliseconds(1_500)
            config.requestIDSeed = 1 << 20
            let router = Router(access: c.access[routerNode]!, config: config)
            let key = d.startKey.isEmpty ? [UInt8]([0x01, 0x61]) : d.startKey + [0x61]
            _ = try await router.put(PutRequest(key: key, value: [1]))  // caches `paused` as leader
            c.network.setPaused(paused, true)
            let clock = ContinuousClock()
            let start = clock.now
            let put = try await router.put(PutRequest(key: key, value: [2]))
            let read = try await router.range(RangeRequest(key: key))
            let elapsed = clock.now - start
            c.network.setPaused(paused, false)
            #expect(put.revision > 0)
            #expect(read.kvs.first?.value == [2])
            // Hang bound: without the attempt bound the put waits for the 60 s call timeout.
            #expect(elapsed < .seconds(30), "took \(elapsed)")
            #expect(c.leader(of: d.rangeID) != paused)
        }

        /// Session 14: an attempt in flight to a node this node's failure detector marks
        /// down ends then, not at the attempt timeout, and the retry goes to the leader the
        /// local replica follows. With a 60 s attempt timeout the put would otherwise wait
        /// 60 s (fails the 30 s hang bound); the leader is paused after the first attempt of
        /// the second put was sent to it.
        @Test func anAttemptToANodeMarkedDownEndsBeforeItsTimeout() async throws {
            let c = try AccessCluster(ranges: 2, callTimeoutMs: 120_000)
            defer { c.shutdown() }
            let user = c.bootstrap.descriptors.filter { $0.rangeID != .system }
            #expect(await c.everyRangeHasALeader())
            let d = try #require(user.first)
            let paused = try #require(c.leader(of: d.rangeID))
            let routerNode = c.bootstrap.nodes.first { $0 != paused }!
            if c.leader(of: .system) == paused {
                c.hosts[paused]!.transferLeadership(of: .system, to: routerNode)
                #expect(await c.eventually { c.leader(of: .system) == routerNode })
            }
            var config = Router.Config()
            config.attemptTimeout = .seconds(60)
            config.requestIDSeed = 1 << 21
            let router = Router(access: c.access[routerNode]!, config: config)
            let key = d.startKey.isEmpty ? [UInt8]([0x01, 0x62]) : d.startKey + [0x62]
            _ = try await router.put(PutRequest(key: key, value: [1]))  // caches `paused` as leader
            #expect(!c.hosts[routerNode]!.peerIsDown(paused))
            c.network.setPaused(paused, true)
            let clock = ContinuousClock()
            let start = clock.now
            let put = try await router.put(PutRequest(key: key, value: [2]))
            let elapsed = clock.now - start
            #expect(c.hosts[routerNode]!.peerIsDown(paused), "the detector marked the paused node down")
            let read = try await router.range(RangeRequest(key: key))
            c.network.setPaused(paused, false)
            #expect(put.revision > 0)
            #expect(read.kvs.first?.value == [2])
            #expect(elapsed < .seconds(30), "took \(elapsed): the attempt waited for its timeout")
            #expect(c.leader(of: d.rangeID) != paused)
        }

        /// Session 14: the paused node leads the range AND the system range (the oracle).
        /// The write's revisions must come from the new system leader: neither the node's
        /// one oracle call in flight nor the search for the system leader (which asked the
        /// paused node first) may wait for their 60 s timeouts.
        @Test func writesMoveOffAPausedNodeThatAlsoLeadsTheSystemRange() async throws {
            let c = try AccessCluster(ranges: 2, callTimeoutMs: 120_000) { $0.proposalTimeoutMs = 60_000 }
            defer { c.shutdown() }
            let user = c.bootstrap.descriptors.filter { $0.rangeID != .system }
            #expect(await c.everyRangeHasALeader())
            let d = try #require(user.first)
            let paused = try #require(c.leader(of: d.rangeID))
            if c.leader(of: .system) != paused {
                let from = try #require(c.leader(of: .system))
                c.hosts[from]!.transferLeadership(of: .system, to: paused)
                #expect(await c.eventually { c.leader(of: .system) == paused })
            }
            let routerNode = c.bootstrap.nodes.first { $0 != paused }!
            var config = Router.Config()
            config.attemptTimeout = .seconds(60)
            config.requestIDSeed = 1 << 22
            let router = Router(access: c.access[routerNode]!, config: config)
            let key = d.startKey.isEmpty ? [UInt8]([0x01, 0x63]) : d.startKey + [0x63]
            _ = try await router.put(PutRequest(key: key, value: [1]))
            c.network.setPaused(paused, true)
            let clock = ContinuousClock()
            let start = clock.now
            let put = try await router.put(PutRequest(key: key, value: [2]))
            let elapsed = clock.now - start
            let read = try await router.range(RangeRequest(key: key))
            c.network.setPaused(paused, false)
            #expect(put.revision > 0)
            #expect(read.kvs.first?.value == [2])
            #expect(elapsed < .seconds(30), "took \(elapsed): something waited for a 60 s timeout")
            #expect(c.leader(of: .system) != paused && c.leader(of: d.rangeID) != paused)
        }

        /// Session 14: lease calls go to the system range leader; with its node paused a
        /// call waited for the 120 s call timeout. It now ends once the node is marked down
        /// (a keep-alive is retried on the new leader; here the test's 200 ms leader search
        /// may end first), and the lease is found on the new leader.
        @Test func leaseCallsMoveOffAPausedSystemLeader() async throws {
            let c = try AccessCluster(ranges: 1, callTimeoutMs: 120_000)
            defer { c.shutdown() }
            #expect(await c.everyRangeHasALeader())
            let paused = try #require(c.leader(of: .system))
            let routerNode = c.bootstrap.nodes.first { $0 != paused }!
            let access = c.access[routerNode]!
            let lease = try await access.leaseGrant(id: 0, ttl: 60)
            c.network.setPaused(paused, true)
            let clock = ContinuousClock()
            let start = clock.now
            _ = try? await access.leaseKeepAlive(id: lease.id)
            let elapsed = clock.now - start
            #expect(elapsed < .seconds(30), "took \(elapsed): the call waited for its timeout")
            var found: LeaseRecord?
            let deadline = clock.now + .seconds(20)
            while found == nil && clock.now < deadline {
                found = try? await access.leaseKeepAlive(id: lease.id)
                if found == nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            c.network.setPaused(paused, false)
            #expect(found?.id == lease.id, "the lease is kept alive by the new system leader")
            #expect(c.leader(of: .system) != paused)
        }
    }
}
