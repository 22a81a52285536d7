import API
import Base
import GRPCCore
import Logging
import Node
import PeerTransport
import Router
import Synchronization

/// The etcd v3 API of one node, composed: the `Router` (KV, Watch, Lease over every range)
/// behind the NOSPACE quota guards (KV puts and LeaseGrant), and the node's `NodeEtcdBackend` (identity, members,
/// status, alarms, backup) — with HashKV from the router, so every node hashes the same
/// cluster-wide state. Owns the router and the node backend.
struct ClientAPI: Sendable {
    let router: Router
    let node: NodeEtcdBackend

    init(config: ServerConfig, host: NodeHost, transport: any NodePeerTransport,
         peers: [NodeID: PeerTransportConfig.Address], logger: Logger) throws(ServerConfig.ConfigError) {
        let clients = try Self.clientTable(config)
        let members: [NodeEtcdBackend.Member] = peers.keys.sorted().map { id in
            let peer = peers[id]!
            let client = clients[id].map { "http://\($0.host):\($0.port)" } ?? ""
            return .init(nodeID: id, clientURL: client, peerURL: "http://\(peer.host):\(peer.port)")
        }
        let records = members.map {
            NodeRecord(nodeID: $0.nodeID, name: "node-\($0.nodeID.rawValue)",
                       clientURLs: $0.clientURL.isEmpty ? [] : [$0.clientURL], peerURLs: [$0.peerURL])
        }
        let access = NodeClusterAccess(host: host, transport: transport, members: records)
        let holder = RouterHolder()
        let backupSource = BackupSourceHolder()
        node = NodeEtcdBackend(host: host, members: members, quotaBytes: Int64(config.quotaBackendBytes),
                               revision: { try await holder.router().currentRevision() },
                               hashKV: { try await holder.router().hashKV(revision: $0) },
                               backup: { try await backupSource.source().stream() })
        var rc = Router.Config()
        rc.clusterID = node.clusterID
        rc.warn = { line in logger.warning("\(line)", metadata: ["component": "router"]) }
        router = Router(access: access, config: rc)
        holder.set(router)
        backupSource.set(ClusterBackupSource(
            clusterID: node.clusterID,
            revision: { try await holder.router().currentRevision() },
            routes: { try await access.routes().map(\.descriptor) },
            read: { try await holder.router().range($0) },
            leases: { try await access.leases() }))
    }

    /// `cluster.clients` parsed; this node's own entry defaults to `listen.clientAddress`.
    static func clientTable(_ config: ServerConfig) throws(ServerConfig.ConfigError) -> [NodeID: PeerTransportConfig.Address] {
        var table: [NodeID: PeerTransportConfig.Address] = [:]
        for c in config.clients {
            let parts = c.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let id = UInt64(parts[0]), id > 0 else {
                throw ServerConfig.ConfigError("cluster.clients: expected \"ID=host:port\", got '\(c)'")
            }
            table[NodeID(id)] = try ServerConfig.address(parts[1], "cluster.clients")
        }
        let me = NodeID(UInt64(config.nodeID))
        if table[me] == nil { table[me] = try ServerConfig.address(config.clientAddress, "listen.clientAddress") }
        return table
    }

    /// The gRPC services of the client port (etcd's KV, Watch, Lease, Cluster, Maintenance).
    func services(limits: EtcdLimits) -> [any RegistrableRPCService] {
        let node = self.node
        return EtcdServer.services(
            kv: QuotaKVBackend(inner: router, noSpace: { node.noSpace }), watch: router,
            lease: QuotaLeaseBackend(inner: router, noSpace: { node.noSpace }),
            cluster: node, maintenance: node, limits: limits)
    }
}

/// Breaks the construction cycle between the node backend (which asks the router for
/// header revisions and HashKV) and the router (configured with the backend's cluster ID).
/// Set once, before any request can arrive.
final class RouterHolder: Sendable {
    let slot = Mutex<Router?>(nil)
    func set(_ r: Router) { slot.withLock { $0 = r } }
    func router() throws -> Router {
        guard let r = slot.withLock({ $0 }) else { throw EtcdError.unimplemented("router before start") }
        return r
    }
}

/// The backup source, set once the router exists (it needs the backend's cluster ID).
final class BackupSourceHolder: Sendable {
    let slot = Mutex<ClusterBackupSource?>(nil)
    func set(_ s: ClusterBackupSource) { slot.withLock { $0 = s } }
    func source() throws -> ClusterBackupSource {
        guard let s = slot.withLock({ $0 }) else { throw EtcdError.unimplemented("snapshot before start") }
        return s
    }
}
