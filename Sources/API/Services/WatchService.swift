import Glibc
public import GRPCCore
public import Proto

/// etcd's `Watch` service: one bidirectional stream per client carrying many watchers. The
/// stream runs three loops — the reader (create / cancel / progress requests), the writer
/// (drains the session's bounded response queue, a burst per write) and the progress_notify ticker — and
/// ends when the client closes its side or the connection goes away.
public struct WatchService: Etcdserverpb_Watch.SimpleServiceProtocol {
    let backend: any EtcdWatchBackend
    let headers: ResponseHeaders
    let limits: EtcdLimits
    /// Events encoded once for every watcher of every stream of this service.
    let encoded = EncodedEvents()

    /// Responses handed to the transport in one write at most.
    static let maxResponsesPerWrite = 64

    /// Whether the writer, woken by the first response of a burst, yields once before taking
    /// it, so that the responses of other groups woken with it (queued behind it on the pool)
    /// join the write. A measurement switch: on unless the environment sets
    /// FLOTILLA_WATCH_WRITER_NO_YIELD=1 (session 11: two pairs without it used less CPU per
    /// event, a third did not; the yield costs one reschedule per burst, docs/bench.md).
    static let writerYields = getenv("FLOTILLA_WATCH_WRITER_NO_YIELD").map { String(cString: $0) != "1" } ?? true

    public init(backend: any EtcdWatchBackend, cluster: any EtcdClusterBackend, limits: EtcdLimits = EtcdLimits()) {
        self.backend = backend
        self.headers = ResponseHeaders(cluster: cluster)
        self.limits = limits
    }

    public func watch(
        request: RPCAsyncSequence<Etcdserverpb_WatchRequest, any Error>,
        response: RPCWriter<Etcdserverpb_WatchResponse>,
        context: ServerContext
    ) async throws {
        let session = WatchSession(backend: backend, headers: headers, limits: limits, encoded: encoded)
        let interval = limits.progressNotifyInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A burst (one put seen by many watchers of the stream) goes out in one
                // write: one flush instead of one per response.
                // Woken by the first response of a burst, it yields once first (`writerYields`),
                // so the other watchers woken with it (queued behind it on the pool) add theirs.
                while let batch = await session.queue.popBatch(max: Self.maxResponsesPerWrite,
                                                                yieldAfterWait: Self.writerYields) {
                    if batch.count == 1 {
                        try await response.write(batch[0])
                    } else {
                        try await response.write(contentsOf: batch)
                    }
                }
            }
            group.addTask {
                for try await req in request {
                    await session.handle(req)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: interval) } catch { return }
                    await session.progressTick()
                }
            }
            defer {
                session.close()
                group.cancelAll()
            }
            _ = try await group.next()
        }
    }
}
