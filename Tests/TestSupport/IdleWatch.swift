/// The idle-watch keepalive check shared by both client transports' tests: etcdctl's watch
/// held idle for more than two minutes (clientv3 pings the idle connection), then one put of
/// the watched key. Reports what happened; the tests assert on it.
public enum IdleWatch {
    public struct Outcome: Sendable {
        /// Whether etcdctl's watch was still running when the idle period ended.
        public var stillRunningAfterIdle: Bool
        /// The put of the watched key after the idle period.
        public var put: Etcdctl.Result
        /// The watch's last three output lines after the put (`PUT`, key, value when delivered).
        public var lastLines: [String]
        /// The watch's whole output (for failure messages).
        public var output: String
    }

    public static let key = "idle/key"
    public static let value = "after-idle"

    /// Watches `key` on `endpoint`, stays idle for `idle`, puts `value`, waits for the event.
    public static func hold(endpoint: String, idle: Duration = .seconds(135)) async throws -> Outcome {
        let watch = try Etcdctl.Background(["watch", key], endpoint: endpoint)
        defer { watch.stop() }
        try await Task.sleep(for: idle)
        let running = watch.process.isRunning
        let put = try await Etcdctl.run(["put", key, value], endpoint: endpoint)
        let lines = await watch.waitForLines(3)
        return Outcome(stillRunningAfterIdle: running, put: put, lastLines: Array(lines.suffix(3)), output: watch.output)
    }
}
