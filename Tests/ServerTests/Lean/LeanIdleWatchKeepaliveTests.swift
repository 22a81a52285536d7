import API
import Foundation
@testable import Server
import Synchronization
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
    /// A store's watch backend that counts the watches opened on it.
    final class CountingWatch: EtcdWatchBackend, Sendable {
        let inner: SingleStoreBackend
        let opened = Mutex(0)
        init(_ inner: SingleStoreBackend) { self.inner = inner }
        func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
            opened.withLock { $0 += 1 }
            return try await inner.watch(spec)
        }
        func currentRevision() async throws -> Int64 { try await inner.currentRevision() }
    }

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
        let watch = try Etcdctl.Background(["watch", "idle/key"], endpoint: ep)
        defer { watch.stop() }
        try await Task.sleep(for: .seconds(135))
        #expect(watch.process.isRunning, "etcdctl watch exited while idle: \(watch.output)")
        let r = try await Etcdctl.run(["put", "idle/key", "after-idle"], endpoint: ep)
        #expect(r.status == 0, "\(r.err)")
        let lines = await watch.waitForLines(3)
        #expect(Array(lines.suffix(3)) == ["PUT", "idle/key", "after-idle"], "\(watch.output)")
        #expect(counting.opened.withLock { $0 } == 1, "the watch was re-opened: the idle stream died")
        print("lean idle watch: opened \(counting.opened.withLock { $0 }) time(s); etcdctl output: \(watch.output)")
        clientPort.beginGracefulShutdown()
    }
}
