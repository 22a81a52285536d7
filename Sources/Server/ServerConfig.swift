public import Base
public import Node
public import PeerTransport
public import Placement

/// Every setting of one `flotilla serve` node, with its default. Values come from (in
/// order) the defaults here, the TOML file, then command-line flags (`--key value`,
/// `--table.key=value`). The `settings` table is the single list of names: it drives the
/// TOML loader, the flags, `flotilla config-defaults` and the check that
/// Config/flotilla.toml lists every setting. Plain value; owns nothing.
public struct ServerConfig: Sendable, Equatable {
    public var nodeID: Int = 1
    public var dataDir: String = "flotilla-data/node-1"
    public var clientAddress: String = "127.0.0.1:2379"
    public var peerAddress: String = "127.0.0.1:2380"
    public var metricsAddress: String = "127.0.0.1:9090"
    /// The client port's gRPC transport: `grpc` (grpc-swift-nio-transport) or `lean` (the
    /// lean HTTP/2 path, `LeanServerTransport`). `flotilla serve` lets
    /// FLOTILLA_CLIENT_TRANSPORT override it.
    public var clientTransport: String = "lean"
    /// The peer port's transport: `grpc` (`GRPCPeerTransport`, grpc-swift-2 over HTTP/2) or
    /// `lean` (`LeanPeerTransport`, swift-nio with its own framing). Every node of a cluster
    /// must use the same one. `flotilla serve` lets FLOTILLA_PEER_TRANSPORT override it.
    public var peerTransport: String = "lean"
    /// `"ID=host:port"` peer addresses of every node of the cluster (this one included).
    public var peers: [String] = []
    /// `"ID=host:port"` client addresses of every node (MemberList's client URLs); a node
    /// missing here is listed with no client URL (this node always with `clientAddress`).
    public var clients: [String] = []
    /// etcd's --quota-backend-bytes: above this data file size NOSPACE is raised (0 = 2 GiB).
    public var quotaBackendBytes: Int = 2 << 30
    public var rangeCount: Int = 8
    public var tickIntervalMs: Int = 100
    public var electionTicks: Int = 10
    public var heartbeatTicks: Int = 1
    public var quiesceAfterTicks: Int = 3
    public var proposalTimeoutMs: Int = 5_000
    public var walSegmentBytes: Int = 64 << 20
    public var applyCommitIntervalMs: Int = 50
    public var applyCommitMaxOps: Int = 1_000
    public var walGCIntervalMs: Int = 1_000
    public var allocationSlackPercent: Int = 20
    public var snapshotChunkBytes: Int = 1 << 20
    /// `NodeConfig.syncCommitOnlyHardStates` (not a file setting: `flotilla serve` sets it
    /// from FLOTILLA_SYNC_COMMIT_ONLY=1, a measurement/escape switch).
    public var syncCommitOnlyHardStates = false
    public var snapshotSendMBPerSecond: Double = 64
    public var sendQueueBatches: Int = 1_024
    public var reconnectInitialMs: Int = 50
    public var reconnectMaxMs: Int = 2_000
    public var reconnectJitter: Double = 0.2
    public var keepaliveIntervalMs: Int = 10_000
    public var keepaliveTimeoutMs: Int = 5_000
    public var keepaliveMinTimeMs: Int = 5_000
    public var maxMessageBytes: Int = 64 << 20
    /// Leader placement (`[placement]`, `PlacementSettings`): the policy's name and its
    /// driver's timings. `flotilla serve` lets FLOTILLA_PLACEMENT override the policy.
    public var placementPolicy: String = "with-system"
    public var placementIntervalMs: Int = 500
    public var placementSettleMs: Int = 2_000
    public var placementRetryMs: Int = 5_000
    public var placementOperatorHoldMs: Int = 300_000
    public var placementMaxTransfersPerStep: Int = 2
    /// `NodeConfig.oracleLease` (`[system] oracleLease`): the system range leader's lease on
    /// its oracle leadership. `flotilla serve` lets FLOTILLA_ORACLE_LEASE=0/1 override it.
    public var oracleLease: Bool = true
    public var logLevel: String = "info"
    public var shutdownGraceMs: Int = 5_000

    public init() {}

    /// The values of `listen.clientTransport`.
    public static let clientTransports = ["grpc", "lean"]
    /// The values of `peer.transport`, and the environment variable that overrides it.
    public static let peerTransports = PeerTransportKind.allCases.map(\.rawValue)
    public static let peerTransportEnvironmentKey = PeerTransportKind.environmentKey
    /// The values of `placement.policy`, and the environment variable that overrides it in
    /// `flotilla serve`.
    public static let placementPolicies = PlacementPolicy.names
    public static let placementEnvironmentKey = "FLOTILLA_PLACEMENT"
    /// The environment variable that overrides `listen.clientTransport` in `flotilla serve`.
    public static let clientTransportEnvironmentKey = "FLOTILLA_CLIENT_TRANSPORT"
    /// The environment variable that overrides `system.oracleLease` in `flotilla serve` ("0"/"1").
    public static let oracleLeaseEnvironmentKey = "FLOTILLA_ORACLE_LEASE"

    /// One named setting: its TOML table and key, help text, and how to read/write it.
    // @unchecked: the only non-Sendable members are key paths to stored properties, which
    // are immutable values that capture nothing.
    public struct Setting: @unchecked Sendable {
        public enum Kind {
            case int(WritableKeyPath<ServerConfig, Int>)
            case double(WritableKeyPath<ServerConfig, Double>)
            case string(WritableKeyPath<ServerConfig, String>)
            case strings(WritableKeyPath<ServerConfig, [String]>)
            case bool(WritableKeyPath<ServerConfig, Bool>)
        }
        public var table: String
        public var key: String
        public var help: String
        public var kind: Kind
        public var fullKey: String { "\(table).\(key)" }
    }

    public static let settings: [Setting] = [
        .init(table: "node", key: "nodeID", help: "This node's ID (1...65535), unique in the cluster.", kind: .int(\.nodeID)),
        .init(table: "node", key: "dataDir", help: "Data directory (created 0700; refuses another node's directory).", kind: .string(\.dataDir)),
        .init(table: "listen", key: "clientAddress", help: "host:port of the client port (etcd v3 API and the Admin service).", kind: .string(\.clientAddress)),
        .init(table: "listen", key: "peerAddress", help: "host:port of the peer port (node-to-node Raft streams and snapshots).", kind: .string(\.peerAddress)),
        .init(table: "listen", key: "clientTransport", help: "Client port gRPC transport: \"lean\" (default: hot KV methods answered on the lean HTTP/2 path, every other stream bridged to grpc-swift) or \"grpc\" (grpc-swift-nio-transport for everything).", kind: .string(\.clientTransport)),
        .init(table: "listen", key: "metricsAddress", help: "host:port of the HTTP port (/metrics, /health, /status).", kind: .string(\.metricsAddress)),
        .init(table: "cluster", key: "peers", help: "Every node's peer address as \"ID=host:port\" (this node included).", kind: .strings(\.peers)),
        .init(table: "cluster", key: "clients", help: "Every node's client address as \"ID=host:port\" (for MemberList).", kind: .strings(\.clients)),
        .init(table: "cluster", key: "rangeCount", help: "Ranges the keyspace is pre-split into on first start (bootstrap).", kind: .int(\.rangeCount)),
        .init(table: "raft", key: "tickIntervalMs", help: "One tick of the Raft core, in milliseconds.", kind: .int(\.tickIntervalMs)),
        .init(table: "raft", key: "electionTicks", help: "A follower that hears no leader for [election, 2*election) ticks campaigns.", kind: .int(\.electionTicks)),
        .init(table: "raft", key: "heartbeatTicks", help: "A leader heartbeats every heartbeatTicks ticks.", kind: .int(\.heartbeatTicks)),
        .init(table: "raft", key: "quiesceAfterTicks", help: "Idle ticks (all followers caught up) before a range quiesces.", kind: .int(\.quiesceAfterTicks)),
        .init(table: "raft", key: "proposalTimeoutMs", help: "A proposal without a result after this long fails (outcome unknown).", kind: .int(\.proposalTimeoutMs)),
        .init(table: "storage", key: "quotaBackendBytes", help: "Data file size above which writes fail with NOSPACE (etcd's --quota-backend-bytes).", kind: .int(\.quotaBackendBytes)),
        .init(table: "storage", key: "walSegmentBytes", help: "Size of one WAL segment file.", kind: .int(\.walSegmentBytes)),
        .init(table: "storage", key: "applyCommitIntervalMs", help: "Applied state is committed to data.db at least this often...", kind: .int(\.applyCommitIntervalMs)),
        .init(table: "storage", key: "applyCommitMaxOps", help: "...or after this many applied commands.", kind: .int(\.applyCommitMaxOps)),
        .init(table: "storage", key: "allocationSlackPercent", help: "Free share of data.db (percent, 0-100) kept so each commit writes its pages in contiguous runs: fewer, larger writes for a larger file; 0 fills every hole first (smallest file).", kind: .int(\.allocationSlackPercent)),
        .init(table: "storage", key: "walGCIntervalMs", help: "How often WAL segments are garbage-collected.", kind: .int(\.walGCIntervalMs)),
        .init(table: "snapshot", key: "chunkBytes", help: "Uncompressed bytes per snapshot chunk.", kind: .int(\.snapshotChunkBytes)),
        .init(table: "snapshot", key: "sendMBPerSecond", help: "Snapshot send throttle in MB/s of compressed chunks (0 = unlimited).", kind: .double(\.snapshotSendMBPerSecond)),
        .init(table: "peer", key: "transport", help: "Peer port transport: \"lean\" (default: swift-nio, length-prefixed frames, no HTTP/2) or \"grpc\" (grpc-swift-2 over HTTP/2). Every node of a cluster must use the same; FLOTILLA_PEER_TRANSPORT overrides it.", kind: .string(\.peerTransport)),
        .init(table: "transport", key: "sendQueueBatches", help: "Batches queued per peer before the oldest is dropped.", kind: .int(\.sendQueueBatches)),
        .init(table: "transport", key: "reconnectInitialMs", help: "First reconnect delay to a peer (doubles per failure).", kind: .int(\.reconnectInitialMs)),
        .init(table: "transport", key: "reconnectMaxMs", help: "Largest reconnect delay.", kind: .int(\.reconnectMaxMs)),
        .init(table: "transport", key: "reconnectJitter", help: "Random +- fraction applied to each reconnect delay.", kind: .double(\.reconnectJitter)),
        .init(table: "transport", key: "keepaliveIntervalMs", help: "Keepalive ping interval on peer connections (HTTP/2 pings, or the lean transport's own).", kind: .int(\.keepaliveIntervalMs)),
        .init(table: "transport", key: "keepaliveTimeoutMs", help: "A ping unanswered this long closes the connection.", kind: .int(\.keepaliveTimeoutMs)),
        .init(table: "transport", key: "keepaliveMinTimeMs", help: "Server: minimum client ping interval accepted (etcd's --grpc-keepalive-min-time).", kind: .int(\.keepaliveMinTimeMs)),
        .init(table: "transport", key: "maxMessageBytes", help: "Largest gRPC message accepted on the peer port (the client port keeps etcd's 1.5 MiB request + 512 KiB).", kind: .int(\.maxMessageBytes)),
        .init(table: "placement", key: "policy", help: "Which node leads each user range: \"with-system\" (default: the system range's leader, where oracle fetches are local; bootstrap campaigns there too), \"spread\" (balance leader counts across live nodes) or \"none\" (where elections put them). FLOTILLA_PLACEMENT overrides it.", kind: .string(\.placementPolicy)),
        .init(table: "placement", key: "intervalMs", help: "How often each node's placement driver looks at its ranges' leaders.", kind: .int(\.placementIntervalMs)),
        .init(table: "placement", key: "settleMs", help: "After a node starts and after a range's leader changed, placement leaves the range alone this long.", kind: .int(\.placementSettleMs)),
        .init(table: "placement", key: "retryMs", help: "After placement ordered a range's transfer, it orders none for that range this long.", kind: .int(\.placementRetryMs)),
        .init(table: "placement", key: "operatorHoldMs", help: "A leader move between live nodes that the policy would not make (flotctl transfer-leader) pins the range this long.", kind: .int(\.placementOperatorHoldMs)),
        .init(table: "placement", key: "maxTransfersPerStep", help: "At most this many leader transfers per node per placement step.", kind: .int(\.placementMaxTransfersPerStep)),
        .init(table: "system", key: "oracleLease", help: "The system range leader holds a lease on its oracle leadership: revision fetches skip the heartbeat round for (electionTicks - 2) ticks after a confirmed one. (A restarted system-range replica votes only after an election timeout whatever this says, so nodes with different settings are safe together.) Every node needs the same tickIntervalMs and electionTicks. FLOTILLA_ORACLE_LEASE=0/1 overrides it.", kind: .bool(\.oracleLease)),
        .init(table: "log", key: "level", help: "trace, debug, info, notice, warning, error or critical.", kind: .string(\.logLevel)),
        .init(table: "shutdown", key: "graceMs", help: "On SIGTERM/SIGINT, wait this long for in-flight work before exiting.", kind: .int(\.shutdownGraceMs)),
    ]

    public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    static func setting(named name: String) -> Setting? {
        settings.first { $0.fullKey == name } ?? settings.first { $0.key == name }
    }

    /// Applies one value to the setting `name` (`table.key` or the bare key).
    public mutating func set(_ name: String, _ value: TOMLSubset.Value) throws(ConfigError) {
        guard let s = Self.setting(named: name) else { throw ConfigError("unknown setting '\(name)'") }
        switch (s.kind, value) {
        case (.int(let p), .integer(let i)): self[keyPath: p] = i
        case (.double(let p), .float(let d)): self[keyPath: p] = d
        case (.double(let p), .integer(let i)): self[keyPath: p] = Double(i)
        case (.string(let p), .string(let v)): self[keyPath: p] = v
        case (.bool(let p), .bool(let v)): self[keyPath: p] = v
        case (.strings(let p), .array(let items)):
            var out: [String] = []
            for item in items {
                guard case .string(let v) = item else { throw ConfigError("\(s.fullKey): expected strings") }
                out.append(v)
            }
            self[keyPath: p] = out
        default: throw ConfigError("\(s.fullKey): wrong type \(value)")
        }
    }

    /// Applies a flag's text (strings need no quotes; lists are comma-separated).
    public mutating func set(_ name: String, text: String) throws(ConfigError) {
        guard let s = Self.setting(named: name) else { throw ConfigError("unknown setting '\(name)'") }
        let value: TOMLSubset.Value
        switch s.kind {
        case .string: value = .string(text)
        case .strings: value = .array(text.split(separator: ",").map { .string(String($0).trimmingSpaces) })
        case .int, .double:
            guard let v = TOMLSubset.parseValue(text) else { throw ConfigError("\(s.fullKey): bad number '\(text)'") }
            value = v
        case .bool:
            guard text == "true" || text == "false" else { throw ConfigError("\(s.fullKey): expected true or false, got '\(text)'") }
            value = .bool(text == "true")
        }
        try set(s.fullKey, value)
    }

    /// Loads a TOML document over the defaults; unknown keys are errors.
    public static func load(toml text: String) throws -> ServerConfig {
        var c = ServerConfig()
        for (key, value) in try TOMLSubset.parse(text).sorted(by: { $0.key < $1.key }) { try c.set(key, value) }
        return c
    }

    /// The current value of a setting, in TOML syntax.
    public func tomlValue(of s: Setting) -> String {
        switch s.kind {
        case .int(let p): String(self[keyPath: p])
        case .double(let p): String(self[keyPath: p])
        case .string(let p): "\"\(self[keyPath: p])\""
        case .strings(let p): "[" + self[keyPath: p].map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .bool(let p): self[keyPath: p] ? "true" : "false"
        }
    }

    /// A TOML document listing every setting with its value and help.
    public func renderTOML() -> String {
        var out = ""
        var table = ""
        for s in Self.settings {
            if s.table != table {
                table = s.table
                out += (out.isEmpty ? "" : "\n") + "[\(table)]\n"
            }
            out += "# \(s.help)\n\(s.key) = \(tomlValue(of: s))\n"
        }
        return out
    }

    /// Checks ranges and addresses; returns the parsed peer table.
    public func validate() throws(ConfigError) -> [NodeID: PeerTransportConfig.Address] {
        guard (1...65_535).contains(nodeID) else { throw ConfigError("node.nodeID must be 1...65535") }
        guard (1...65_536).contains(rangeCount) else { throw ConfigError("cluster.rangeCount must be 1...65536") }
        for (name, v) in [("tickIntervalMs", tickIntervalMs), ("electionTicks", electionTicks),
                          ("heartbeatTicks", heartbeatTicks), ("sendQueueBatches", sendQueueBatches),
                          ("walSegmentBytes", walSegmentBytes), ("snapshotChunkBytes", snapshotChunkBytes)] where v <= 0 {
            throw ConfigError("\(name) must be positive")
        }
        guard electionTicks > heartbeatTicks else { throw ConfigError("raft.electionTicks must exceed heartbeatTicks") }
        _ = try Self.address(clientAddress, "listen.clientAddress")
        guard Self.clientTransports.contains(clientTransport) else {
            throw ConfigError("listen.clientTransport must be one of \(Self.clientTransports.joined(separator: ", ")), got '\(clientTransport)'")
        }
        guard PeerTransportKind(rawValue: peerTransport) != nil else {
            throw ConfigError("peer.transport must be one of \(PeerTransportKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(peerTransport)'")
        }
        guard PlacementPolicy(name: placementPolicy) != nil else {
            throw ConfigError("placement.policy must be one of \(Self.placementPolicies.joined(separator: ", ")), got '\(placementPolicy)'")
        }
        for (name, v) in [("placement.intervalMs", placementIntervalMs), ("placement.maxTransfersPerStep", placementMaxTransfersPerStep)] where v <= 0 {
            throw ConfigError("\(name) must be positive")
        }
        for (name, v) in [("placement.settleMs", placementSettleMs), ("placement.retryMs", placementRetryMs),
                          ("placement.operatorHoldMs", placementOperatorHoldMs)] where v < 0 {
            throw ConfigError("\(name) must not be negative")
        }
        _ = try Self.address(metricsAddress, "listen.metricsAddress")
        let me = try Self.address(peerAddress, "listen.peerAddress")
        var table: [NodeID: PeerTransportConfig.Address] = [:]
        for p in peers {
            let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let id = UInt64(parts[0]), id > 0 else {
                throw ConfigError("cluster.peers: expected \"ID=host:port\", got '\(p)'")
            }
            guard table[NodeID(id)] == nil else { throw ConfigError("cluster.peers: node \(id) listed twice") }
            table[NodeID(id)] = try Self.address(parts[1], "cluster.peers")
        }
        if table.isEmpty { table[NodeID(UInt64(nodeID))] = me }
        guard table[NodeID(UInt64(nodeID))] != nil else {
            throw ConfigError("cluster.peers must include this node (\(nodeID))")
        }
        return table
    }

    public static func address(_ s: String, _ what: String) throws(ConfigError) -> PeerTransportConfig.Address {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65_535).contains(port)
        else { throw ConfigError("\(what): expected host:port, got '\(s)'") }
        return .init(host: String(s[..<colon]), port: port)
    }

    /// The node runtime's settings.
    public var nodeConfig: NodeConfig {
        var n = NodeConfig(nodeID: NodeID(UInt64(nodeID)), dataDirectory: dataDir)
        n.tickIntervalMs = tickIntervalMs
        n.electionTicks = electionTicks
        n.heartbeatTicks = heartbeatTicks
        n.quiesceAfterTicks = quiesceAfterTicks
        n.proposalTimeoutMs = proposalTimeoutMs
        n.walSegmentBytes = walSegmentBytes
        n.applyCommitIntervalMs = applyCommitIntervalMs
        n.applyCommitMaxOps = applyCommitMaxOps
        n.walGCIntervalMs = walGCIntervalMs
        n.allocationSlackPercent = allocationSlackPercent
        n.snapshotChunkBytes = snapshotChunkBytes
        n.syncCommitOnlyHardStates = syncCommitOnlyHardStates
        n.placement = placementSettings
        n.oracleLease = oracleLease
        return n
    }

    /// The leader-placement settings (`validate` checked the policy's name).
    public var placementSettings: PlacementSettings {
        var p = PlacementSettings(policy: PlacementPolicy(name: placementPolicy) ?? PlacementPolicy.none)
        p.intervalMs = placementIntervalMs
        p.settleMs = placementSettleMs
        p.retryMs = placementRetryMs
        p.operatorHoldMs = placementOperatorHoldMs
        p.maxTransfersPerStep = placementMaxTransfersPerStep
        return p
    }

    /// The peer transport's settings.
    public func transportConfig(peers: [NodeID: PeerTransportConfig.Address]) throws(ConfigError) -> PeerTransportConfig {
        var t = PeerTransportConfig(nodeID: NodeID(UInt64(nodeID)), listen: try Self.address(peerAddress, "listen.peerAddress"),
                                    peers: peers)
        t.sendQueueBatches = sendQueueBatches
        t.reconnectInitialMs = reconnectInitialMs
        t.reconnectMaxMs = reconnectMaxMs
        t.reconnectJitter = reconnectJitter
        t.keepaliveIntervalMs = keepaliveIntervalMs
        t.keepaliveTimeoutMs = keepaliveTimeoutMs
        t.keepaliveMinTimeMs = keepaliveMinTimeMs
        t.snapshotMBPerSecond = snapshotSendMBPerSecond
        t.maxMessageBytes = maxMessageBytes
        return t
    }
}

/// A `host:port` address of a node's port.
public typealias NodeAddress = PeerTransportConfig.Address
