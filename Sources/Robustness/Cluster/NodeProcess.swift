import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One server process of the cluster under test: how to start it, and its current pid.
/// Owns the child: start, kill -9, SIGSTOP/SIGCONT, graceful stop; stdout and stderr are
/// appended to `logPath`.
public final class NodeProcess: Sendable {
    public let name: String
    public let executable: String
    public let arguments: [String]
    public let logPath: String
    /// Added to the harness's environment for the child (e.g. FLOTILLA_CRASHPOINT).
    public let environment: [String: String]
    let process = Mutex<Process?>(nil)

    public init(name: String, executable: String, arguments: [String], logPath: String, environment: [String: String] = [:]) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.logPath = logPath
        self.environment = environment
    }

    /// The exit status of the last process once it has exited (nil while running or never started).
    public var exitStatus: Int32? {
        process.withLock { p in p.flatMap { $0.isRunning ? nil : $0.terminationStatus } }
    }

    /// Sends `sig` to the running process.
    public func send(_ sig: Int32) { if let pid { _ = kill(pid, sig) } }

    public var pid: Int32? { process.withLock { p in p.flatMap { $0.isRunning ? $0.processIdentifier : nil } } }

    public func start() throws {
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        log.write(Data("=== start \(Date()) \(executable) \(arguments.joined(separator: " "))\n".utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process.withLock { $0 = p }
    }

    /// True once the process was started and has exited (crashed, refused its config, lost
    /// its port) — as opposed to never started.
    /// Asks the kernel too (`/proc/<pid>/stat`: gone, zombie or dead), because Foundation
    /// learns of the exit on a dispatch thread that a loaded test process can starve for
    /// tens of seconds (a clean-clone CI run waited out the whole 30 s start-up bound).
    public var hasExited: Bool {
        let (started, running, pid) = process.withLock { p in (p != nil, p?.isRunning ?? false, p?.processIdentifier) }
        guard started else { return false }
        if !running { return true }
        return pid.map(Self.kernelSaysExited) ?? false
    }

    /// True when `/proc/<pid>/stat` is missing or names state Z (zombie: exited, not yet
    /// reaped) or X (dead).
    static func kernelSaysExited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // "pid (comm) S ...": the state follows the last ')' (comm may contain spaces or parens).
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state == "Z" || state == "X"
    }

    /// The last `lines` lines of the node's log (for a start-up failure report).
    public func logTail(lines: Int = 8) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "(no log at \(logPath))" }
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }

    /// True while the process sits in the Swift runtime's crash handler: it has a
    /// `swift-backtrace` child (the reporter symbolicates while its parent waits, so the node
    /// still counts as running, answers nothing and has not logged the crash yet).
    public var isCrashing: Bool {
        guard let pid else { return false }
        return Self.children(of: pid).contains { Self.command(of: $0) == "swift-backtrace" }
    }

    /// The pid and signal of the last process when a signal ended it (nil while it runs, after
    /// a normal exit, or before any start).
    public var lastSignalDeath: (Int32, Int32)? {
        process.withLock { p in
            guard let p, !p.isRunning, p.terminationReason == .uncaughtSignal else { return nil }
            return (p.processIdentifier, p.terminationStatus)
        }
    }

    /// The command name of `pid` (/proc/<pid>/comm), nil when it is gone.
    static func command(of pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits up to `limit` for a crashing process (see `isCrashing`) to end on its own, so its
    /// crash report reaches the log before the process is stopped. Returns at once otherwise.
    public func awaitCrashReport(limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while isCrashing, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(100)) }
    }

    /// kill -9 and wait until the process is gone.
    public func kill9() async {
        guard let pid else { return }
        _ = kill(pid, SIGKILL)
        await waitForExit()
    }

    public func pause() { if let pid { _ = kill(pid, SIGSTOP) } }
    public func resume() { if let pid { _ = kill(pid, SIGCONT) } }

    /// SIGTERM, then SIGKILL after `grace`. Children of the node (the Swift runtime's
    /// `swift-backtrace` after a crash) are killed too: one orphaned by the SIGKILL kept the
    /// node's listening sockets, so every later run found its ports taken.
    public func stop(grace: Duration = .seconds(3)) async {
        // A crashing node first finishes writing its backtrace (SIGKILL of the reporter lost it).
        await awaitCrashReport(limit: .seconds(60))
        guard let pid else { return }
        defer { for child in Self.children(of: pid) { _ = kill(child, SIGKILL) } }
        _ = kill(pid, SIGCONT)
        _ = kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while self.pid != nil, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if let pid = self.pid { _ = kill(pid, SIGKILL) }
        await waitForExit()
    }

    /// Processes whose parent is `pid` (from /proc/<pid>/stat).
    static func children(of pid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var out: [Int32] = []
        for e in entries {
            guard let child = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // "pid (comm) state ppid ...": fields after the command name.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == pid { out.append(child) }
        }
        return out
    }

    /// Waits (up to 5 s) until the process is gone.
    public func waitForExit() async {
        for _ in 0..<200 {
            let running = process.withLock { $0?.isRunning ?? false }
            if !running { return }
            try? await Task.sleep(for: .milliseconds(25))
        }
    }
}
