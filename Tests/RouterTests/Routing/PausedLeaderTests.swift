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
    /// ends after `Config.attemptTimeout` and the retry (same request ID) goes elsewhere;
    /// since session 14 also as soon as the failure detector marks the node down.
    @Suite struct PausedLeaderTests {
        /// A cluster whose first user range is led by `paused`, the system range led by
        /// `paused` or kept off it, and a router on another node that wrote `key` once (so
        /// it caches `paused` as the range's leader).
        struct Setup {
            let cluster: AccessCluster
            let range: RangeID
            let paused: NodeID
            let routerNode: NodeID
            let router: Router
            let key: [UInt8]

            init(callTimeoutMs: Int, attemptTimeout: Duration, idSeed: UInt64, keyByte: UInt8,
                 systemOnPaused: Bool, tune: (inout NodeConfig) -> Void = { _ in }) async throws {
                let c = try AccessCluster(ranges: 2, callTimeoutMs: callTimeoutMs, tune: tune)
                cluster = c
                #expect(await c.everyRangeHasALeader())
                let d = try #require(c.bootstrap.descriptors.first { $0.rangeID != .system })
                let paused = try #require(c.leader(of: d.rangeID))
                let routerNode = c.bootstrap.nodes.first { $0 != paused }!
                let systemLeader = try #require(c.leader(of: .system))
                let systemTarget = systemOnPaused ? paused : routerNode
                if (systemLeader == paused) != systemOnPaused {
                    c.hosts[systemLeader]!.transferLeadership(of: .system, to: systemTarget)
                    #expect(await c.eventually { c.leader(of: .system) == systemTarget })
                }
                var config = Router.Config()
                config.attemptTimeout = attemptTimeout
                config.requestIDSeed = idSeed
                router = Router(access: c.access[routerNode]!, config: config)
                key = d.startKey.isEmpty ? [0x01, keyByte] : d.startKey + [keyByte]
                range = d.rangeID
                self.paused = paused
                self.routerNode = routerNode
                _ = try await router.put(PutRequest(key: key, value: [1]))
            }

            /// Pauses the leader, puts `key` = [2] and reads it back, runs `whilePaused`;
            /// returns how long the put took. The leader is resumed before returning.
            func putWhilePaused(_ whilePaused: () -> Void = {}) async throws -> Duration {
                cluster.network.setPaused(paused, true)
                let clock = ContinuousClock()
                let start = clock.now
                let put = try await router.put(PutRequest(key: key, value: [2]))
                let elapsed = clock.now - start
                let read = try await router.range(RangeRequest(key: key))
                whilePaused()
                cluster.network.setPaused(paused, false)
                #expect(put.revision > 0)
                #expect(read.kvs.first?.value == [2])
                #expect(cluster.leader(of: range) != paused)
                return elapsed
            }
        }

        @Test func writesAndReadsMoveOffAPausedLeader() async throws {
            // Calls to the paused node would hang for 60 s: far longer than the hang bound.
            let s = try await Setup(callTimeoutMs: 60_000, attemptTimeout: .milliseconds(1_500), idSeed: 1 << 20,
                                    keyByte: 0x61, systemOnPaused: false)
            defer { s.cluster.shutdown() }
            let elapsed = try await s.putWhilePaused()
            // Hang bound: without the attempt bound the put waits for the 60 s call timeout.
            #expect(elapsed < .seconds(30), "took \(elapsed)")
        }

        /// Session 14: an attempt in flight to a node this node's failure detector marks
        /// down ends then, not at the attempt timeout, and the retry goes to the leader the
        /// local replica follows. With a 60 s attempt timeout the put would otherwise wait
        /// 60 s (fails the 30 s hang bound).
        @Test func anAttemptToANodeMarkedDownEndsBeforeItsTimeout() async throws {
            let s = try await Setup(callTimeoutMs: 120_000, attemptTimeout: .seconds(60), idSeed: 1 << 21,
                                    keyByte: 0x62, systemOnPaused: false)
            defer { s.cluster.shutdown() }
            #expect(!s.cluster.hosts[s.routerNode]!.peerIsDown(s.paused))
            let elapsed = try await s.putWhilePaused {
                #expect(s.cluster.hosts[s.routerNode]!.peerIsDown(s.paused), "the detector marked the paused node down")
            }
            #expect(elapsed < .seconds(30), "took \(elapsed): the attempt waited for its timeout")
        }

        /// Session 14: the paused node leads the range AND the system range (the oracle).
        /// The write's revisions must come from the new system leader: neither the node's
        /// one oracle call in flight nor the search for the system leader (which asked the
        /// paused node first) may wait for their 60 s timeouts.
        @Test func writesMoveOffAPausedNodeThatAlsoLeadsTheSystemRange() async throws {
            let s = try await Setup(callTimeoutMs: 120_000, attemptTimeout: .seconds(60), idSeed: 1 << 22,
                                    keyByte: 0x63, systemOnPaused: true) { $0.proposalTimeoutMs = 60_000 }
            defer { s.cluster.shutdown() }
            let elapsed = try await s.putWhilePaused()
            #expect(elapsed < .seconds(30), "took \(elapsed): something waited for a 60 s timeout")
            #expect(s.cluster.leader(of: .system) != s.paused)
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
