import API
import Foundation
import MVCC
import Robustness
import Testing

/// The bad-input catalogue over real gRPC (HTTP/2 on loopback) against Flotilla's etcd API
/// server over a one-store backend, started in process: every case gets etcd's answer, the
/// server stays up, and a flood of bad requests does not grow memory without bound.
@Suite(.serialized) struct BadInputCatalogueTests {
    /// Runs `body` with a client connected to a fresh in-process server.
    func withServer(_ body: @Sendable @escaping (EtcdEndpoint) async throws -> Void) async throws {
        let backend = try SingleStoreBackend.inMemory()
        let server = EtcdServer(backend: backend, options: EtcdServer.Options(host: "127.0.0.1", port: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            group.addTask { await backend.run() }
            defer { group.cancelAll() }
            let port = try await server.listeningPort()
            let endpoint = try EtcdEndpoint("127.0.0.1:\(port)")
            defer { endpoint.close() }
            try await body(endpoint)
            server.shutdown()
        }
    }

    @Test func catalogueHasAtLeastThirtyCases() {
        #expect(BadInputCatalogue.cases.count >= 30)
        #expect(Set(BadInputCatalogue.cases.map(\.name)).count == BadInputCatalogue.cases.count)
    }

    @Test func everyCaseGetsEtcdsAnswerAndTheServerStaysUp() async throws {
        try await withServer { endpoint in
            for c in BadInputCatalogue.cases {
                let answer = await c.send(endpoint)
                #expect(c.expected.matches(answer), "\(c.name): got \(answer), etcd answers \(c.expected)")
                // Still serving after each case.
                let alive = await RequestExecutor.execute(.put(key: "alive", value: c.name, lease: 0), on: endpoint, timeout: .seconds(10))
                #expect(alive.headerRevision != nil, "server stopped answering after \(c.name): \(alive)")
            }
        }
    }

    /// Resident set size of this process (the in-process server) in bytes.
    static func rss() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? 0
        return kb * 1024
    }

    @Test func floodOfBadRequestsDoesNotGrowMemoryUnboundedly() async throws {
        // The cheap cases (no multi-megabyte payloads, no watch windows), many times over.
        let cheap = BadInputCatalogue.cases.filter {
            !$0.name.contains("max-request-bytes") && !$0.name.contains("gRPC receive limit") && !$0.name.contains("below the limit")
                && !$0.name.hasPrefix("watch") && !$0.name.hasPrefix("flood") && !$0.name.contains("compact")
        }
        try await withServer { endpoint in
            for c in cheap { _ = await c.send(endpoint) }  // warm up
            let base = Self.rss()
            #expect(base > 0, "could not read VmRSS from /proc/self/status")
            var samples: [Int] = []
            for round in 0..<8 {
                for _ in 0..<3 { for c in cheap { _ = await c.send(endpoint) } }
                samples.append(Self.rss())
                _ = round
            }
            let growth = (samples.last ?? base) - base
            print("bad-input flood: \(cheap.count * 24) requests, RSS \(base / 1024) KiB -> \(samples.map { $0 / 1024 }) KiB")
            // Bounded: well under what one leak per request would add, and not still climbing steeply.
            #expect(growth < 64 * 1024 * 1024, "RSS grew \(growth) bytes over the flood: \(samples)")
            let alive = await RequestExecutor.execute(.get(key: "alive"), on: endpoint, timeout: .seconds(10))
            #expect(alive.headerRevision != nil)
        }
    }
}
