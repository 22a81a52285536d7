public import GRPCCore
import GRPCNIOTransportHTTP2

/// The etcd v3 gRPC server of a node: KV, Watch, Lease, Cluster and Maintenance over the
/// given backends on one host:port (plaintext HTTP/2), with etcd's limits and keepalive
/// policy (clients may ping every 5 s even without calls, like etcd's
/// `--grpc-keepalive-min-time=5s`; without it idle Watch/LeaseKeepAlive streams die after
/// ~40 s). Auth is not registered, so its methods answer Unimplemented. Owns the transport
/// and the gRPC server; `serve()` runs until `shutdown()` or task cancellation.
public final class EtcdServer: Sendable {
    /// Where and how to listen.
    public struct Options: Sendable {
        public var host: String
        /// 0 picks a free port (read it with `listeningPort()`).
        public var port: Int
        public var limits: EtcdLimits
        /// Shortest ping interval accepted from clients (etcd's --grpc-keepalive-min-time).
        public var keepaliveMinTime: Duration = .seconds(5)
        /// Server-initiated ping after this much inactivity (etcd's --grpc-keepalive-interval).
        public var keepaliveInterval: Duration = .seconds(2 * 60 * 60)
        /// How long a ping may go unanswered (etcd's --grpc-keepalive-timeout).
        public var keepaliveTimeout: Duration = .seconds(20)

        public init(host: String = "127.0.0.1", port: Int = 2379, limits: EtcdLimits = EtcdLimits()) {
            self.host = host
            self.port = port
            self.limits = limits
        }
    }

    let transport: HTTP2ServerTransport.Posix
    let server: GRPCServer<HTTP2ServerTransport.Posix>

    /// A server for one object implementing every backend protocol.
    public convenience init(backend: any EtcdBackend, options: Options) {
        self.init(
            services: Self.services(
                kv: backend, watch: backend, lease: backend, cluster: backend, maintenance: backend,
                limits: options.limits),
            options: options)
    }

    /// A server for the given services (see `services(...)`).
    public init(services: [any RegistrableRPCService], options: Options) {
        let config = HTTP2ServerTransport.Posix.Config.defaults { c in
            c.rpc.maxRequestPayloadSize = options.limits.maxReceiveMessageBytes
            c.connection.keepalive = .init(
                time: options.keepaliveInterval, timeout: options.keepaliveTimeout,
                clientBehavior: .init(minPingIntervalWithoutCalls: options.keepaliveMinTime, allowWithoutCalls: true))
        }
        transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: options.host, port: options.port), transportSecurity: .plaintext, config: config)
        server = GRPCServer(transport: transport, services: services)
    }

    /// The etcd services over separate backends (the Router may implement them apart).
    public static func services(
        kv: any EtcdKVBackend, watch: any EtcdWatchBackend, lease: any EtcdLeaseBackend,
        cluster: any EtcdClusterBackend, maintenance: any EtcdMaintenanceBackend, limits: EtcdLimits = EtcdLimits()
    ) -> [any RegistrableRPCService] {
        [
            KVService(backend: kv, cluster: cluster, limits: limits),
            WatchService(backend: watch, cluster: cluster, limits: limits),
            LeaseService(backend: lease, cluster: cluster, limits: limits),
            ClusterService(backend: cluster),
            MaintenanceService(backend: maintenance, cluster: cluster),
        ]
    }

    /// Serves until `shutdown()` is called or the task is cancelled.
    public func serve() async throws {
        try await server.serve()
    }

    /// The bound port, once listening.
    public func listeningPort() async throws -> Int {
        let address = try await transport.listeningAddress
        if let v4 = address.ipv4 { return v4.port }
        if let v6 = address.ipv6 { return v6.port }
        throw RPCError(code: .internalError, message: "server is not listening on an IP address")
    }

    /// Stops accepting new RPCs and lets running ones finish.
    public func shutdown() {
        server.beginGracefulShutdown()
    }
}
