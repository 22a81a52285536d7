import API
import Foundation
import MVCC
import TestSupport

@testable import flotctl

/// Runs `body` with a flotctl session connected to an etcd API server on a free loopback
/// port over a fresh in-memory `SingleStoreBackend` (TestSupport's `withLoopbackServer`).
func withLoopbackSession<R: Sendable>(
    _ body: @Sendable @escaping (EtcdSession) async throws -> R
) async throws -> R {
    try await withLoopbackServer { endpoint, _ in
        let port = Int(endpoint.split(separator: ":").last ?? "") ?? 0
        return try await EtcdSession.with(Endpoint(host: "127.0.0.1", port: port), timeout: .seconds(60), body)
    }
}
