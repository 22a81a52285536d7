import Foundation
import Testing

@testable import Robustness

#if canImport(Glibc)
import Glibc
#endif

/// A run whose cluster cannot start fails fast with its logs kept (regression for THE HANG:
/// a run must never sit silent). No real server needed: `/bin/false` stands in for a
/// `flotilla` that refuses its config, and a held port for another engineer's cluster.
@Suite(.serialized) struct ClusterStartTests {
    func options(basePort: Int, executable: String) -> RunOptions {
        var o = RunOptions()
        o.target = "flotilla"
        o.fault = .killRandom
        o.seed = 1
        o.basePort = basePort
        o.flotillaExecutable = executable
        o.workDirectory = NSTemporaryDirectory() + "flotilla-robustness-start-tests"
        return o
    }

    @Test func exitingNodeFailsTheRunAtOnce() async {
        let start = ContinuousClock.now
        let run = RobustnessRun(options: options(basePort: 26_790, executable: "/bin/false"))
        let report = await run.run()
        #expect(!report.passed)
        #expect(report.problems.contains { $0.contains("exited during start-up") }, "\(report.problems)")
        // A hang regression, not a speed test: the bound only has to separate "failed at
        // start" from "sat silent" (a full parallel suite on 2 loaded cores took 78 s here).
        #expect(ContinuousClock.now - start < .seconds(180))
        #expect(FileManager.default.fileExists(atPath: run.directory + "/node-1.log"), "logs kept in \(run.directory)")
        try? FileManager.default.removeItem(atPath: run.directory)
    }

    @Test func takenPortFailsTheRunAtOnce() async throws {
        let base = 26_890
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(base + 1).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        let start = ContinuousClock.now
        let report = await RobustnessRun(options: options(basePort: base, executable: "/bin/false")).run()
        #expect(report.problems.contains { $0.contains("ports already in use") && $0.contains("\(base + 1)") }, "\(report.problems)")
        #expect(ContinuousClock.now - start < .seconds(180))  // hang regression, see above
    }

    /// A crashed node's `swift-backtrace` child outlived the SIGKILL that stopped its parent and
    /// kept the node's ports; `stop` now finds a node's children through /proc and kills them.
    @Test func childrenOfAProcessAreFoundThroughProc() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["5"]
        try p.run()
        defer { p.terminate() }
        #expect(NodeProcess.children(of: getpid()).contains(p.processIdentifier))
        #expect(!NodeProcess.children(of: p.processIdentifier).contains(getpid()))
    }
}
