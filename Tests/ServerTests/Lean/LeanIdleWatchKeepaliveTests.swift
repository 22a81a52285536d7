import API
import Foundation
@testable import Server
import Testing
import TestSupport

/// APITests' `IdleWatchKeepaliveTests` on the lean client transport: etcdctl's watch held idle
/// for more than two minutes (clientv3 pings the idle connection) must still deliver, and the
/// Watch must have reached the backend exactly once (no silent reconnect). Slow, so only with
/// FLOTILLA_LONG_TESTS=1.
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_LONG_TESTS"] == "1", "set FLOTILLA_LONG_TESTS=1"),
    .enabled(if: Etcdctl.installed, "etcdctl is not installed"))
struct LeanIdleWatchKeepaliveTests {
    @Test(.timeLimit(.minutes(5)))
    func watchIdleForMoreThanTwoMinutesStillDeliversOnLean() async throws {
        let backend = try SingleStoreBackend.inMemory()
        let run = Task { await backend.run() }
        defer { run.cancel() }
        let counting = CountingWatch(backend)
        let clientPort = try ClientPort.make(
            transport: "lean", host: "127.0.0.1", port: 0, keepaliveMinTimeMs: 5_000,
            services: EtcdServer.services(kv: backend, watch: counting, lease: backend, cluster: backend, maintenance: backend))
        let serve = Task { try await clientPort.serve() }
        defer { serve.cancel() }
        let ep = "127.0.0.1:\(try await clientPort.listeningPort())"
        let o = try await IdleWatch.hold(endpoint: ep)
        #expect(o.stillRunningAfterIdle, "etcdctl watch exited while idle: \(o.output)")
        #expect(o.put.status == 0, "\(o.put.err)")
        #expect(o.lastLines == ["PUT", IdleWatch.key, IdleWatch.value], "\(o.output)")
        #expect(counting.opened.withLock { $0 } == 1, "the watch was re-opened: the idle stream died")
        print("lean idle watch: opened \(counting.opened.withLock { $0 }) time(s); etcdctl output: \(o.output)")
        clientPort.beginGracefulShutdown()
    }
}
