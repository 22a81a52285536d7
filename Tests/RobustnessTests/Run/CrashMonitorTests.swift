import Foundation
import Testing

@testable import Robustness

#if canImport(Glibc)
import Glibc
#endif

/// Regression for finding 4 (kill-leader seed 3025): two nodes trapped while the run believed
/// every node "ran and logged nothing". A process whose `swift-backtrace` child runs is
/// crashing; one ended by a signal the harness did not send died. Stand-ins: a shell script
/// that starts a child named `swift-backtrace` (a copy of `sleep`), and a script that kills
/// itself with SIGSEGV.
@Suite(.serialized) struct CrashMonitorTests {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "crash-monitor-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func script(_ dir: String, _ name: String, _ body: String) throws -> String {
        let path = "\(dir)/\(name)"
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    func waitUntil(_ limit: Duration, _ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + limit
        while !condition(), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
    }

    @Test func aNodeInsideTheCrashHandlerIsReportedOnce() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: "\(dir)/swift-backtrace")
        let exe = try script(dir, "crashing-node", "\"\(dir)/swift-backtrace\" 30 & wait")
        let node = NodeProcess(name: "node-2", executable: exe, arguments: [], logPath: "\(dir)/node-2.log")
        let healthy = NodeProcess(name: "node-1", executable: "/bin/sleep", arguments: ["30"], logPath: "\(dir)/node-1.log")
        try node.start()
        try healthy.start()
        defer {
            for p in [node, healthy] {
                if let pid = p.pid {
                    for c in NodeProcess.children(of: pid) { kill(c, SIGKILL) }
                    kill(pid, SIGKILL)
                }
            }
        }
        await waitUntil(.seconds(20)) { node.isCrashing }
        #expect(node.isCrashing, "the swift-backtrace child was not found")
        #expect(!healthy.isCrashing)
        let monitor = CrashMonitor(nodes: [healthy, node])
        let first = monitor.poll(nowMs: 1234)
        #expect(first.map(\.node) == ["node-2"], "\(first)")
        #expect(first.first?.description.contains("crashed") == true)
        #expect(monitor.poll(nowMs: 1500).isEmpty, "a crash is named once")
        #expect(monitor.crashes.count == 1)
    }

    @Test func aNodeKilledByASignalTheHarnessDidNotSendIsReported() async throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let exe = try script(dir, "segv-node", "kill -SEGV $$")
        let killed = NodeProcess(name: "node-3", executable: "/bin/sleep", arguments: ["30"], logPath: "\(dir)/node-3.log")
        let node = NodeProcess(name: "node-1", executable: exe, arguments: [], logPath: "\(dir)/node-1.log")
        try node.start()
        try killed.start()
        await killed.kill9()  // what the kill faults do: not a crash
        await waitUntil(.seconds(20)) { node.pid == nil }
        let crashes = CrashMonitor(nodes: [node, killed]).poll(nowMs: 7)
        #expect(crashes.map(\.node) == ["node-1"], "\(crashes)")
        #expect(crashes.first?.what == "died of signal \(SIGSEGV)")
    }
}
