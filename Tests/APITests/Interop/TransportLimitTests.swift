import API
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Proto
import Testing

/// The error-table row only the real transport can show: a message above
/// 1.5 MiB + 512 KiB is refused by gRPC itself with ResourceExhausted, while one between
/// 1.5 MiB and 2 MiB reaches the service and gets etcd's "request is too large".
@Suite struct TransportLimitTests {
    @Test func messageAboveGRPCLimitIsRefusedByTheTransport() async throws {
        try await withLoopbackServer { endpoint, _ in
            let port = Int(endpoint.split(separator: ":").last!)!
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            try await withGRPCClient(transport: transport) { client in
                let kv = Etcdserverpb_KV.Client(wrapping: client)
                let huge = await rpcError { _ = try await kv.put(putRequest("k", String(repeating: "x", count: 2 * 1024 * 1024 + 16))) }
                // grpc-swift's server decoder raises ResourceExhausted, but the HTTP/2 stream is
                // reset before a status reaches the client, which reports Unavailable
                // (grpc-go/etcd sends ResourceExhausted). Either way the message is refused
                // and the connection stays usable (the put below).
                #expect(huge?.code == .resourceExhausted || huge?.code == .unavailable, "\(String(describing: huge))")
                print("oversized message answered: \(String(describing: huge))")
                let large = await rpcError { _ = try await kv.put(putRequest("k", String(repeating: "x", count: 1024 * 1024 * 3 / 2 + 1024))) }
                #expect(large?.code == .invalidArgument)
                #expect(large?.message == "etcdserver: request is too large")
                _ = try await kv.put(putRequest("k", "fine"))
            }
        }
    }
}
