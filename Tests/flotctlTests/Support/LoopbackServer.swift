import API
import Foundation
import MVCC

@testable import flotctl

/// Runs `body` with an etcd API server (HTTP/2 on a free loopback port) over a fresh
/// in-memory `SingleStoreBackend`, and a flotctl session connected to it.
func withLoopbackSession<R: Sendable>(
    _ body: @Sendable @escaping (EtcdSession) async throws -> R
) async throws -> R {
    let backend = try SingleStoreBackend.inMemory()
    let server = EtcdServer(backend: backend, options: EtcdServer.Options(host: "127.0.0.1", port: 0))
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await server.serve()
            return nil
        }
        group.addTask {
            await backend.run()
            return nil
        }
        defer { group.cancelAll() }
        let port = try await server.listeningPort()
        let result = try await EtcdSession.with(Endpoint(host: "127.0.0.1", port: port), timeout: .seconds(60), body)
        server.shutdown()
        return result
    }
}
