import Foundation
import GRPCCore
import Proto
import Synchronization

/// One watcher of the key prefix: opens a Watch stream from its start revision, records every
/// response, and when the stream breaks resumes on the next endpoint from the last revision
/// it is complete through + 1 (etcd's resumable guarantee). Asks for progress notifications
/// periodically when `requestProgress` is set. Owns its log behind a mutex; `run` ends when
/// `stop()` was called and the watcher caught up, or after the grace period.
public final class Watcher: Sendable {
    public let id: Int
    let endpoints: [EtcdEndpoint]
    let prefix: String
    let requestProgress: Bool
    let state: Mutex<State>

    struct State {
        var log: WatcherLog
        var stopAt: Int64?  // revision to catch up to before stopping
        var stopRequested: ContinuousClock.Instant?
        var finished = false
    }

    public init(id: Int, endpoints: [EtcdEndpoint], prefix: String, startRevision: Int64, requestProgress: Bool) {
        self.id = id
        self.endpoints = endpoints
        self.prefix = prefix
        self.requestProgress = requestProgress
        state = Mutex(State(log: WatcherLog(id: id, startRevision: startRevision)))
    }

    public var log: WatcherLog { state.withLock { $0.log } }

    /// Asks the watcher to stop once it is complete through `revision`.
    public func stop(after revision: Int64) {
        state.withLock {
            $0.stopAt = revision
            $0.stopRequested = .now
        }
    }

    var shouldStop: Bool {
        state.withLock { s in
            if s.finished { return true }
            guard let stopAt = s.stopAt else { return false }
            return s.log.coveredThrough >= stopAt || s.log.wasCompacted
        }
    }

    /// The highest revision the workload may compact to without overtaking this watcher: what
    /// it is complete through (0 before its first watch was created; unbounded once it ended).
    /// Compacting below every watcher keeps each watch complete — so the checker can tell which
    /// unknown writes happened — while compaction itself still runs under traffic.
    public var compactionFloor: Int64 {
        state.withLock { s in
            if s.finished || s.log.wasCompacted { return .max }
            guard s.log.entries.contains(where: { if case .created = $0 { true } else { false } }) else { return 0 }
            return max(s.log.coveredThrough, s.log.startRevision - 1)
        }
    }

    func append(_ e: WatchLogEntry) { state.withLock { $0.log.entries.append(e) } }

    /// Runs until stopped; `deadline` bounds the catch-up after `stop`.
    public func run(graceAfterStop: Duration = .seconds(10)) async {
        var attempt = 0
        while !shouldStop {
            if let since = state.withLock({ $0.stopRequested }), ContinuousClock.now - since > graceAfterStop { return }
            let endpoint = endpoints[(id + attempt) % endpoints.count]
            attempt += 1
            let (start, compacted) = state.withLock { s in
                (max(s.log.startRevision, s.log.coveredThrough + 1), s.log.wasCompacted)
            }
            if compacted { return }
            append(.created(startRevision: start, endpoint: endpoint.address))
            do {
                try await stream(on: endpoint, from: start, graceAfterStop: graceAfterStop)
            } catch {
                append(.broken(reason: "\(error)"))
            }
            if !shouldStop { try? await Task.sleep(for: .milliseconds(100)) }
        }
    }

    func stream(on endpoint: EtcdEndpoint, from start: Int64, graceAfterStop: Duration) async throws {
        var create = Etcdserverpb_WatchCreateRequest()
        (create.key, create.rangeEnd) = RequestExecutor.prefixRange(prefix)
        create.startRevision = start
        try await WatchStream.run(
            on: endpoint.watch, create: create, tick: .milliseconds(300), requestProgress: requestProgress,
            shouldEnd: { [self] in
                // Stopping: end once caught up, or when the grace after stop() ran out.
                let ending = state.withLock { s in s.stopRequested.map { ContinuousClock.now - $0 > graceAfterStop } }
                guard let graceOver = ending, graceOver || shouldStop else { return false }
                state.withLock { $0.finished = true }
                return true
            },
            onResponse: { [self] m in
                if m.canceled {
                    append(.canceled(compactRevision: m.compactRevision, reason: m.cancelReason))
                    state.withLock { $0.finished = m.compactRevision > 0 || $0.finished }
                    return .stop
                }
                if m.events.isEmpty {
                    append(.progress(revision: m.header.revision))
                } else {
                    let events = m.events.map { e in
                        WatchEventRecord(
                            isDelete: e.type == .delete, key: String(decoding: e.kv.key, as: UTF8.self),
                            value: String(decoding: e.kv.value, as: UTF8.self), revision: e.kv.modRevision)
                    }.filter { !WorkloadConfig.isHarnessKey($0.key) }
                    // A response of harness keys only (the start-up probe) is no progress notification.
                    if !events.isEmpty { append(.events(headerRevision: m.header.revision, events: events)) }
                }
                return shouldStop ? .stop : .more
            })
    }
}
