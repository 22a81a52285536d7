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
        let (requests, continuation) = AsyncStream.makeStream(of: Etcdserverpb_WatchRequest.self)
        var create = Etcdserverpb_WatchRequest()
        (create.createRequest.key, create.createRequest.rangeEnd) = RequestExecutor.prefixRange(prefix)
        create.createRequest.startRevision = start
        continuation.yield(create)
        let call = Task {
            try await endpoint.watch.watch(
                request: StreamingClientRequest { writer in
                    for await r in requests { try await writer.write(r) }
                }
            ) { response in
                for try await m in response.messages {
                    if m.created && !m.canceled { continue }
                    if m.canceled {
                        self.append(.canceled(compactRevision: m.compactRevision, reason: m.cancelReason))
                        self.state.withLock { $0.finished = m.compactRevision > 0 || $0.finished }
                        continuation.finish()
                        return
                    }
                    if m.events.isEmpty {
                        self.append(.progress(revision: m.header.revision))
                    } else {
                        let events = m.events.map { e in
                            WatchEventRecord(
                                isDelete: e.type == .delete, key: String(decoding: e.kv.key, as: UTF8.self),
                                value: String(decoding: e.kv.value, as: UTF8.self), revision: e.kv.modRevision)
                        }.filter { !WorkloadConfig.isHarnessKey($0.key) }
                        // A response of harness keys only (the start-up probe) is no progress notification.
                        if !events.isEmpty { self.append(.events(headerRevision: m.header.revision, events: events)) }
                    }
                    if self.shouldStop {
                        continuation.finish()
                        return
                    }
                }
            }
        }
        let ticker = Task { [requestProgress] in
            var stoppedSince: ContinuousClock.Instant?
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(300))
                if requestProgress {
                    var p = Etcdserverpb_WatchRequest()
                    p.progressRequest = Etcdserverpb_WatchProgressRequest()
                    continuation.yield(p)
                }
                let stopping = state.withLock { $0.stopAt != nil }
                if stopping {
                    if stoppedSince == nil { stoppedSince = .now }
                    if shouldStop || ContinuousClock.now - stoppedSince! > graceAfterStop {
                        state.withLock { $0.finished = true }
                        continuation.finish()
                        call.cancel()
                        return
                    }
                }
            }
        }
        defer { ticker.cancel() }
        try await call.value
    }
}
