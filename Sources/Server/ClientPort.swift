import API
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Proto

/// The client port's `GRPCServer` on the transport `[listen] clientTransport` names: `grpc`
/// (grpc-swift-nio-transport's HTTP/2 server) or `lean` (`LeanServerTransport`: etcd's unary
/// KV methods answered on the lean HTTP/2 path, everything else bridged to the same
/// `GRPCServer`). Owns the server; `FlotillaServer` drives it through these three closures.
struct ClientPort: Sendable {
    /// Serves until graceful shutdown completes or the calling task is cancelled.
    let serve: @Sendable () async throws -> Void
    /// The bound port (a configured port 0 picks one), once serving.
    let listeningPort: @Sendable () async throws -> Int
    let beginGracefulShutdown: @Sendable () -> Void

    static func make(transport: String, host: String, port: Int, keepaliveMinTimeMs: Int,
                     services: [any RegistrableRPCService]) throws -> ClientPort {
        let limits = EtcdLimits()
        switch transport {
        case "lean":
            guard let kv = services.lazy.compactMap({ $0 as? KVService }).first else {
                throw ServerConfig.ConfigError("listen.clientTransport = \"lean\" needs the KV service")
            }
            var leanLimits = LeanConnection.Limits()
            leanLimits.maxRequestMessageBytes = limits.maxReceiveMessageBytes
            // No ping policing: NIOHTTP2 answers every client PING, so etcd clients' keepalive on
            // idle Watch / LeaseKeepAlive streams never draws GOAWAY (keepaliveMinTimeMs is moot).
            let lean = LeanServerTransport(host: host, port: port, hot: LeanKVService(kv: kv),
                                           native: nativeStreams(services), limits: leanLimits)
            let server = GRPCServer(transport: lean, services: services)
            return ClientPort(serve: { try await server.serve() },
                              listeningPort: { try await lean.listeningPort },
                              beginGracefulShutdown: { server.beginGracefulShutdown() })
        case "grpc":
            let grpc = HTTP2ServerTransport.Posix(
                address: .ipv4(host: host, port: port), transportSecurity: .plaintext,
                config: .defaults { c in
                    c.connection.keepalive.clientBehavior = .init(
                        minPingIntervalWithoutCalls: .milliseconds(keepaliveMinTimeMs), allowWithoutCalls: true)
                    c.rpc.maxRequestPayloadSize = limits.maxReceiveMessageBytes
                })
            let server = GRPCServer(transport: grpc, services: services)
            return ClientPort(serve: { try await server.serve() },
                              listeningPort: { try await grpc.listeningAddress.ipv4?.port ?? 0 },
                              beginGracefulShutdown: { server.beginGracefulShutdown() })
        default:
            throw ServerConfig.ConfigError(
                "listen.clientTransport must be one of \(ServerConfig.clientTransports.joined(separator: ", ")), got '\(transport)'")
        }
    }
}

extension ClientPort {
    /// The streaming methods the lean transport serves itself: etcd's Watch and LeaseKeepAlive
    /// (the same service methods `GRPCServer` would run). `FLOTILLA_LEAN_NATIVE_STREAMS=0`
    /// bridges them to `GRPCServer` like every other stream (A/B measurements).
    static func nativeStreams(_ services: [any RegistrableRPCService],
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> [any LeanStreamService] {
        guard environment["FLOTILLA_LEAN_NATIVE_STREAMS"] != "0" else { return [] }
        var native: [any LeanStreamService] = []
        if let watch = services.lazy.compactMap({ $0 as? WatchService }).first {
            native.append(LeanBidiMethod(Etcdserverpb_Watch.Method.Watch.descriptor) { request, response, context in
                try await watch.watch(request: request, response: response, context: context)
            })
        }
        if let lease = services.lazy.compactMap({ $0 as? LeaseService }).first {
            native.append(LeanBidiMethod(Etcdserverpb_Lease.Method.LeaseKeepAlive.descriptor) { request, response, context in
                try await lease.leaseKeepAlive(request: request, response: response, context: context)
            })
        }
        return native
    }
}
