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
    }
}
