import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Notices server processes that die on their own during a run: a node inside the Swift
/// runtime's crash handler (its `swift-backtrace` child is running: a trap, a force-unwrapped
/// nil, an overflow) or one that was killed by a signal the harness did not send. Owns the
/// set of crashes already reported (by pid), so each is named once.
///
/// Why it exists (finding 4, kill-leader seed 3025): two nodes trapped in PageStore at the same
/// instant, and the run reported "no linearizable read within 20 s although all three nodes
/// ran and logged nothing". A crashing process counts as running while its backtracer
/// symbolicates (the parent waits for it), and the stop's SIGKILL of the reporter lost the
/// backtrace. Now the run names the crash, and `NodeProcess.stop` lets a crashing node's
/// reporter finish writing into the node's log first.
public final class CrashMonitor: Sendable {
    /// One crash seen: which node, what, when (ms since the run's start).
    public struct Crash: Sendable, Equatable, CustomStringConvertible {
        public var node: String
        public var pid: Int32
        public var what: String
        public var atMs: Int64
        public var description: String { "\(node) (pid \(pid)) \(what) at t=\(atMs)ms" }
    }

    let nodes: [NodeProcess]
    let state = Mutex<[Crash]>([])

    public init(nodes: [NodeProcess]) { self.nodes = nodes }

    /// Every crash seen so far, in the order noticed.
    public var crashes: [Crash] { state.withLock { $0 } }

    /// Looks at every node once; returns the crashes not reported before.
    @discardableResult
    public func poll(nowMs: Int64) -> [Crash] {
        var found: [Crash] = []
        for n in nodes {
            if let pid = n.pid, n.isCrashing {
                found.append(Crash(node: n.name, pid: pid, what: "crashed (Swift runtime trap: swift-backtrace is running)", atMs: nowMs))
            } else if let (pid, signal) = n.lastSignalDeath, signal != SIGKILL {
                found.append(Crash(node: n.name, pid: pid, what: "died of signal \(signal)", atMs: nowMs))
            }
        }
        return state.withLock { seen in
            let new = found.filter { f in !seen.contains { $0.pid == f.pid } }
            seen += new
            return new
        }
    }

    /// Polls every `interval` until the task is cancelled, calling `note` for each new crash.
    public func run(interval: Duration = .milliseconds(200), now: @escaping @Sendable () -> Int64,
                    note: @escaping @Sendable (Crash) -> Void) async {
        while !Task.isCancelled {
            for c in poll(nowMs: now()) { note(c) }
            try? await Task.sleep(for: interval)
        }
    }
}
