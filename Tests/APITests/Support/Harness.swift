import API
import Foundation
import GRPCCore
import GRPCInProcessTransport
import MVCC
import Proto
import Synchronization
import Testing

/// Generated clients for every etcd service over one in-process connection.
struct EtcdClients: Sendable {
    let kv: Etcdserverpb_KV.Client<InProcessTransport.Client>
    let watch: Etcdserverpb_Watch.Client<InProcessTransport.Client>
    let lease: Etcdserverpb_Lease.Client<InProcessTransport.Client>
    let cluster: Etcdserverpb_Cluster.Client<InProcessTransport.Client>
    let maintenance: Etcdserverpb_Maintenance.Client<InProcessTransport.Client>
    let auth: Etcdserverpb_Auth.Client<InProcessTransport.Client>

    init(_ c: GRPCClient<InProcessTransport.Client>) {
        kv = .init(wrapping: c)
        watch = .init(wrapping: c)
        lease = .init(wrapping: c)
        cluster = .init(wrapping: c)
        maintenance = .init(wrapping: c)
        auth = .init(wrapping: c)
    }
}

/// Runs `body` against the etcd services over `backend`, in process.
func withEtcd<R: Sendable>(
    _ backend: SingleStoreBackend, limits: EtcdLimits = EtcdLimits(),
    _ body: @Sendable @escaping (EtcdClients) async throws -> R
) async throws -> R {
    let transport = InProcessTransport()
    let services = EtcdServer.services(
        kv: backend, watch: backend, lease: backend, cluster: backend, maintenance: backend, limits: limits)
    return try await withGRPCServer(transport: transport.server, services: services) { _ in
        try await withGRPCClient(transport: transport.client) { client in
            try await body(EtcdClients(client))
        }
    }
}

/// The `RPCError` `body` throws, or nil when it succeeds (or throws something else).
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        return nil
    } catch let e as RPCError {
        return e
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

extension Data {
    init(_ s: String) { self.init(s.utf8) }
}

func putRequest(_ key: String, _ value: String = "v", lease: Int64 = 0, prevKV: Bool = false) -> Etcdserverpb_PutRequest {
    var p = Etcdserverpb_PutRequest()
    p.key = Data(key)
    p.value = Data(value)
    p.lease = lease
    p.prevKv = prevKV
    return p
}

func rangeRequest(_ key: String, end: String = "", revision: Int64 = 0) -> Etcdserverpb_RangeRequest {
    var r = Etcdserverpb_RangeRequest()
    r.key = Data(key)
    r.rangeEnd = Data(end)
    r.revision = revision
    return r
}

/// A Watch stream driven step by step: `send` requests, `next` waits for a response.
final class WatchDriver: Sendable {
    let requests: AsyncStream<Etcdserverpb_WatchRequest>.Continuation
    private let received = Mutex<[Etcdserverpb_WatchResponse]>([])
    private let ended = Mutex(false)

    init(requests: AsyncStream<Etcdserverpb_WatchRequest>.Continuation) { self.requests = requests }

    func deliver(_ r: Etcdserverpb_WatchResponse) { received.withLock { $0.append(r) } }
    func end() { ended.withLock { $0 = true } }

    func send(_ r: Etcdserverpb_WatchRequest) { requests.yield(r) }

    func create(
        _ key: String, end: String = "", start: Int64 = 0, id: Int64 = 0, prevKV: Bool = false,
        progressNotify: Bool = false, fragment: Bool = false, filters: [Etcdserverpb_WatchCreateRequest.FilterType] = []
    ) {
        var c = Etcdserverpb_WatchCreateRequest()
        c.key = Data(key)
        c.rangeEnd = Data(end)
        c.startRevision = start
        c.watchID = id
        c.prevKv = prevKV
        c.progressNotify = progressNotify
        c.fragment = fragment
        c.filters = filters
        var r = Etcdserverpb_WatchRequest()
        r.createRequest = c
        send(r)
    }

    func cancel(_ id: Int64) {
        var r = Etcdserverpb_WatchRequest()
        r.cancelRequest.watchID = id
        send(r)
    }

    func requestProgress() {
        var r = Etcdserverpb_WatchRequest()
        r.progressRequest = Etcdserverpb_WatchProgressRequest()
        send(r)
    }

    /// The next response, or nil after `timeout`. The bound is generous because the suite runs
    /// many process and cluster tests in parallel on 2 cores; a passing run never waits for it.
    func next(timeout: Duration = .seconds(120)) async -> Etcdserverpb_WatchResponse? {
        let deadline = ContinuousClock.now + timeout
        while true {
            // Looked at once more after the deadline: a starved pool may wake this loop only
            // after a response that arrived in time.
            let r: Etcdserverpb_WatchResponse? = received.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            if let r { return r }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// True when nothing arrives during `duration`.
    func silent(for duration: Duration) async -> Bool {
        try? await Task.sleep(for: duration)
        return received.withLock { $0.isEmpty }
    }
}

/// Opens one Watch stream and runs `body` with its driver.
func withWatchStream<R: Sendable>(
    _ clients: EtcdClients, _ body: @Sendable @escaping (WatchDriver) async throws -> R
) async throws -> R {
    let (requests, continuation) = AsyncStream.makeStream(of: Etcdserverpb_WatchRequest.self)
    let driver = WatchDriver(requests: continuation)
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await clients.watch.watch(
                request: StreamingClientRequest { writer in
                    for await r in requests { try await writer.write(r) }
                }
            ) { response in
                for try await m in response.messages { driver.deliver(m) }
                driver.end()
            }
            return nil
        }
        let result = try await body(driver)
        continuation.finish()
        group.cancelAll()
        return result
    }
}
