public import GRPCCore
public import Proto

/// etcd's `Watch` service: one bidirectional stream per client carrying many watchers. The
/// stream runs three loops — the reader (create / cancel / progress requests), the writer
/// (drains the session's bounded response queue) and the progress_notify ticker — and
/// ends when the client closes its side or the connection goes away.
public struct WatchService: Etcdserverpb_Watch.SimpleServiceProtocol {
    let backend: any EtcdWatchBackend
    let headers: ResponseHeaders
    let limits: EtcdLimits

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
        let session = WatchSession(backend: backend, headers: headers, limits: limits)
        let interval = limits.progressNotifyInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while let r = await session.queue.pop() {
                    try await response.write(r)
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
