import API
import Foundation
import Testing

/// A watch held idle for more than two minutes must survive: clientv3 pings the server on
/// an idle connection and grpc-swift's default policy answers with GOAWAY too_many_pings
/// unless the server allows pings like etcd's --grpc-keepalive-min-time=5s. clientv3
/// silently reconnects and re-watches, so the check is on the server side: the Watch must
/// have been opened exactly once. Slow, so only with FLOTILLA_LONG_TESTS=1.
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_LONG_TESTS"] == "1", "set FLOTILLA_LONG_TESTS=1"),
    .enabled(if: Etcdctl.installed, "etcdctl is not installed"))
struct IdleWatchKeepaliveTests {
    @Test(.timeLimit(.minutes(5)))
    func watchIdleForMoreThanTwoMinutesStillDelivers() async throws {
        let backend = try SingleStoreBackend.inMemory()
        let counting = CountingWatch(backend)
        let server = EtcdServer(
            services: EtcdServer.services(
                kv: backend, watch: counting, lease: backend, cluster: backend, maintenance: backend),
            options: EtcdServer.Options(host: "127.0.0.1", port: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { group.cancelAll() }
            let ep = "127.0.0.1:\(try await server.listeningPort())"
            let o = try await IdleWatch.hold(endpoint: ep)
            #expect(o.stillRunningAfterIdle, "etcdctl watch exited while idle: \(o.output)")
            #expect(o.put.status == 0, "\(o.put.err)")
            #expect(o.lastLines == ["PUT", IdleWatch.key, IdleWatch.value], "\(o.output)")
            #expect(counting.opened.withLock { $0 } == 1, "the watch was re-opened: the idle stream died")
            print("idle watch: opened \(counting.opened.withLock { $0 }) time(s); etcdctl output: \(o.output)")
            server.shutdown()
        }
    }
}
