import Base
import Dispatch
import Foundation
import Node
import Synchronization

/// Helpers for system range tests over a `TestCluster`.
extension TestCluster {
    /// Waits for a leader of the system range and returns it.
    func systemLeader(within seconds: Double = 30) async -> NodeID? {
        _ = await eventually(seconds) { leader(of: .system) != nil }
        return leader(of: .system)
    }
}

/// One oracle call as a client saw it: when it started and ended (monotonic ns) and what it got.
struct OracleCallRecord: Sendable {
    var startNs: UInt64
    var endNs: UInt64
    var revisions: ClosedRange<Int64>
    /// The node that served it.
    var node: NodeID = .none
}

/// The hosts workers may call while the test stops and starts nodes (TestCluster's own
/// dictionary is not safe to read concurrently).
/// One node a test marks (0: none), read by a cluster's config closure at each start.
final class NodeMark: Sendable {
    let node = Atomic<UInt64>(0)
}

final class LiveHosts: Sendable {
    let hosts = Mutex<[NodeID: NodeHost]>([:])

    func refresh(_ c: TestCluster) { hosts.withLock { $0 = c.hosts } }

    /// The live host claiming to lead the system range, else any live host.
    func systemLeaderOrAny() -> NodeHost? {
        hosts.withLock { h in h.values.first { $0.isLeader(of: .system) } ?? h.values.first }
    }
}

/// What concurrent oracle workers record, and their stop flag.
final class OracleHistory: Sendable {
    let calls = Mutex<[OracleCallRecord]>([])
    let stopped = Atomic<Bool>(false)

    func record(_ call: OracleCallRecord) { calls.withLock { $0.append(call) } }
    var count: Int { calls.withLock { $0.count } }
    var all: [OracleCallRecord] { calls.withLock { $0 } }
}

enum OracleCheck {
    static func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The oracle's promise over a history: no revision handed out twice, and every call
    /// got revisions above everything any call that ENDED before it STARTED got. Returns
    /// the first violation found.
    static func violation(in calls: [OracleCallRecord]) -> String? {
        let byLower = calls.sorted { $0.revisions.lowerBound < $1.revisions.lowerBound }
        for (a, b) in zip(byLower, byLower.dropFirst()) where a.revisions.upperBound >= b.revisions.lowerBound {
            return "revisions handed out twice: \(a.revisions) and \(b.revisions)"
        }
        let byEnd = calls.sorted { $0.endNs < $1.endNs }
        let byStart = calls.sorted { $0.startNs < $1.startNs }
        var i = 0
        var maxEnded: (Int64, ClosedRange<Int64>)? = nil
        for call in byStart {
            while i < byEnd.count && byEnd[i].endNs < call.startNs {
                if maxEnded == nil || byEnd[i].revisions.upperBound > maxEnded!.0 {
                    maxEnded = (byEnd[i].revisions.upperBound, byEnd[i].revisions)
                }
                i += 1
            }
            if let m = maxEnded, call.revisions.lowerBound <= m.0 {
                return "call got \(call.revisions) after a call that had ended with \(m.1)"
            }
        }
        return nil
    }
}

extension OracleCheck {
    /// Cuts `old` (the system range leader) off from every other node while each host keeps
    /// calling `fetch` (paced, so the old leader's block lasts through the window); returns
    /// whether another node served, and the first violation of the oracle's promise in what
    /// every caller saw.
    static func partitionAndFetch(
        _ c: TestCluster, old: NodeID,
        fetch: @escaping @Sendable (NodeHost) async throws -> ClosedRange<Int64>
    ) async throws -> (moved: Bool, violation: String?) {
        let history = OracleHistory()
        for n in c.hosts.keys where n != old { c.network.partition(old, n) }
        let hosts = c.hosts
        let workers = Task {
            await withTaskGroup(of: Void.self) { group in
                for host in hosts.values {
                    group.addTask {
                        while !history.stopped.load(ordering: .relaxed) {
                            let start = nowNs()
                            if let r = try? await fetch(host) {
                                history.record(OracleCallRecord(startNs: start, endNs: nowNs(), revisions: r, node: host.nodeID))
                            }
                            try? await Task.sleep(for: .milliseconds(3))
                        }
                    }
                }
            }
        }
        let moved = await c.eventually(20) { history.all.contains { $0.node != old } }
        try await Task.sleep(for: .milliseconds(1_000))
        history.stopped.store(true, ordering: .relaxed)
        await workers.value
        return (moved, violation(in: history.all))
    }
}
