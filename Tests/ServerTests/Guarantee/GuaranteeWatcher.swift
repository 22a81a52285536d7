import Foundation
import GRPCCore
import Proto
import Robustness
import Synchronization

/// One reader/watcher of the guarantee test: reads every key linearizably at header
/// revision R, then watches every key from R + 1, resuming a broken stream on the next
/// endpoint from the revision it is complete through + 1 (the last whole revision received
/// or the last progress notification). Owns its `WatcherLog` behind a mutex.
final class GuaranteeWatcher: Sendable {
    let id: Int
    let endpoints: [EtcdTestEndpoint]
    let first: Int
    let state: Mutex<State>

    struct State {
        var log: WatcherLog?
        /// Stop once complete through this revision.
        var stopAt: Int64?
    }

    init(id: Int, endpoints: [EtcdTestEndpoint], first: Int) {
        self.id = id
        self.endpoints = endpoints
        self.first = first
        state = Mutex(State())
    }

    var log: WatcherLog? { state.withLock { $0.log } }

    func stop(after revision: Int64) { state.withLock { $0.stopAt = revision } }

    var done: Bool {
        state.withLock { s in
            guard let stop = s.stopAt else { return false }
            return (s.log?.coveredThrough ?? Int64.max) >= stop
        }
    }

    /// Reads (retrying on other endpoints), then watches until stopped and caught up or
    /// `deadline` passes. Returns the read operation for the revision-order check.
    func run(deadline: ContinuousClock.Instant) async -> TimedOp? {
        var attempt = 0
        var readOp: TimedOp?
        while readOp == nil && ContinuousClock.now < deadline {
            let e = endpoints[(first + attempt) % endpoints.count]
            attempt += 1
            let call = monotonicNs()
            guard let (revision, snapshot) = try? await e.readAll() else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            readOp = TimedOp(kind: .read, key: [], value: [], revision: revision, callNs: call, returnNs: monotonicNs(),
                             who: "watcher \(id) read")
            state.withLock {
                $0.log = WatcherLog(id: id, readRevision: revision, snapshot: snapshot, coveredThrough: revision)
            }
        }
        guard readOp != nil else { return nil }
        while !done && ContinuousClock.now < deadline {
            let e = endpoints[(first + attempt) % endpoints.count]
            attempt += 1
            let from = state.withLock { $0.log!.coveredThrough + 1 }
            try? await stream(on: e, from: from, deadline: deadline)
            if !done {
                state.withLock { $0.log!.resumes += 1 }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        return readOp
    }

    /// One watch stream from `from`; returns when it breaks, or when the watcher is done.
    /// Progress requests tell the watcher how far it is complete when nothing is written.
    func stream(on endpoint: EtcdTestEndpoint, from: Int64, deadline: ContinuousClock.Instant) async throws {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data([0])
        create.rangeEnd = Data([0])
        create.startRevision = from
        try await WatchStream.run(
            on: endpoint.watch, create: create, tick: .milliseconds(250), requestProgress: true,
            shouldEnd: { [self] in done || ContinuousClock.now > deadline },
            onResponse: { [self] m in
                if m.canceled { throw RPCError(code: .cancelled, message: "watch canceled: \(m.cancelReason)") }
                receive(m)
                return done ? .stop : .more
            })
    }

    /// Records a response: events (whole revisions) or a progress notification.
    func receive(_ m: Etcdserverpb_WatchResponse) {
        state.withLock { s in
            guard var log = s.log else { return }
            if m.events.isEmpty {
                // Progress (watch ID -1 for a RequestProgress answer): complete through the header.
                log.coveredThrough = max(log.coveredThrough, m.header.revision)
            } else {
                for e in m.events {
                    log.events.append(WatchedEvent(key: [UInt8](e.kv.key), value: [UInt8](e.kv.value),
                                                   revision: e.kv.modRevision, isDelete: e.type == .delete))
                }
                if !m.fragment, let last = m.events.last {
                    log.coveredThrough = max(log.coveredThrough, last.kv.modRevision)
                }
            }
            s.log = log
        }
    }
}

/// Monotonic nanoseconds (call and return times of the history).
func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
