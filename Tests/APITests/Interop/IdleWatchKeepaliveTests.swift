import API
import Foundation
import Testing

/// A watch held idle for more than two minutes must survive: clientv3 pings the server on
/// an idle connection and grpc-swift's default policy answers with GOAWAY too_many_pings
/// (the stream dies after ~40 s) unless the server allows pings like etcd's
/// --grpc-keepalive-min-time=5s. Slow, so only with FLOTILLA_LONG_TESTS=1.
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_LONG_TESTS"] == "1", "set FLOTILLA_LONG_TESTS=1"),
    .enabled(if: Etcdctl.installed, "etcdctl is not installed"))
struct IdleWatchKeepaliveTests {
    @Test(.timeLimit(.minutes(5)))
    func watchIdleForMoreThanTwoMinutesStillDelivers() async throws {
        try await withLoopbackServer { ep, _ in
            let watch = try Etcdctl.Background(["watch", "idle/key"], endpoint: ep)
            defer { watch.stop() }
            try await Task.sleep(for: .seconds(135))
            #expect(watch.process.isRunning, "etcdctl watch exited while idle: \(watch.output)")
            let r = try await Etcdctl.run(["put", "idle/key", "after-idle"], endpoint: ep)
            #expect(r.status == 0, "\(r.err)")
            let lines = await watch.waitForLines(3)
            #expect(lines == ["PUT", "idle/key", "after-idle"], "\(watch.output)")
        }
    }
}
