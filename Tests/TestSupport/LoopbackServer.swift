public import API

/// Runs `body` with a real gRPC server (HTTP/2 on a loopback port) over a fresh in-memory
/// `SingleStoreBackend`; `endpoint` is `host:port`. Used by the API and flotctl tests.
public func withLoopbackServer<R: Sendable>(
    config: SingleStoreBackend.Config = SingleStoreBackend.Config(),
    _ body: @Sendable @escaping (_ endpoint: String, _ backend: SingleStoreBackend) async throws -> R
) async throws -> R {
    let backend = try SingleStoreBackend.inMemory(config: config)
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
        let result = try await body("127.0.0.1:\(port)", backend)
        server.shutdown()
        return result
    }
}
