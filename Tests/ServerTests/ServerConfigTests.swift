import Base
import Foundation
import Node
@testable import Server
import Testing

@Suite("ServerConfig and the TOML subset")
struct ServerConfigTests {
    static var configDir: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config").path
    }

    @Test("TOML subset: tables, comments, numbers with underscores, strings, arrays, errors with line numbers")
    func parses() throws {
        let doc = """
            # comment
            top = 1
            [a]
            i = 1_000 # trailing
            f = 2.5
            b = true
            s = "x # not a comment"
            list = ["1=h:1", "2=h:2"]
            """
        let v = try TOMLSubset.parse(doc)
        #expect(v["top"] == .integer(1))
        #expect(v["a.i"] == .integer(1000))
        #expect(v["a.f"] == .float(2.5))
        #expect(v["a.b"] == .bool(true))
        #expect(v["a.s"] == .string("x # not a comment"))
        #expect(v["a.list"] == .array([.string("1=h:1"), .string("2=h:2")]))
        #expect(throws: TOMLSubset.ParseError(line: 2, message: "expected key = value")) {
            try TOMLSubset.parse("[a]\nnonsense")
        }
        #expect(throws: TOMLSubset.ParseError.self) { try TOMLSubset.parse("a = 1\na = 2") }
    }

    @Test("Config/flotilla.toml lists every setting, with exactly the built-in defaults")
    func defaultsFileIsComplete() throws {
        let text = try String(contentsOfFile: Self.configDir + "/flotilla.toml", encoding: .utf8)
        let parsed = try TOMLSubset.parse(text)
        for s in ServerConfig.settings {
            #expect(parsed[s.fullKey] != nil, "Config/flotilla.toml lacks \(s.fullKey)")
        }
        #expect(Set(parsed.keys) == Set(ServerConfig.settings.map(\.fullKey)), "unknown keys in Config/flotilla.toml")
        #expect(try ServerConfig.load(toml: text) == ServerConfig())
    }

    @Test("the 3-node example configs load, validate, and agree on the peer table")
    func examples() throws {
        var tables: [[NodeID: NodeAddress]] = []
        for i in 1...3 {
            let c = try ServerConfig.load(toml: try String(contentsOfFile: Self.configDir + "/node\(i).toml", encoding: .utf8))
            #expect(c.nodeID == i)
            tables.append(try c.validate())
        }
        #expect(tables[0] == tables[1] && tables[1] == tables[2])
        #expect(tables[0].count == 3)
    }

    @Test("flag overrides by bare or table-qualified name; bad values and unknown names are rejected")
    func overrides() throws {
        var c = ServerConfig()
        try c.set("tickIntervalMs", text: "25")
        try c.set("snapshot.sendMBPerSecond", text: "1.5")
        try c.set("peers", text: "1=127.0.0.1:1, 2=127.0.0.1:2")
        try c.set("dataDir", text: "/tmp/x")
        #expect(c.tickIntervalMs == 25)
        #expect(c.snapshotSendMBPerSecond == 1.5)
        #expect(c.peers == ["1=127.0.0.1:1", "2=127.0.0.1:2"])
        #expect(c.dataDir == "/tmp/x")
        #expect(throws: ServerConfig.ConfigError.self) { try c.set("nope", text: "1") }
        #expect(throws: ServerConfig.ConfigError.self) { try c.set("tickIntervalMs", text: "fast") }
        #expect(throws: (any Error).self) { try ServerConfig.load(toml: "[raft]\ntickIntervalMs = \"x\"") }
        var bad = ServerConfig()
        bad.peers = ["2=127.0.0.1:5"]
        #expect(throws: ServerConfig.ConfigError.self) { _ = try bad.validate() }
        bad.peers = ["1=nohostport"]
        #expect(throws: ServerConfig.ConfigError.self) { _ = try bad.validate() }
    }

    @Test("peer.transport: grpc by default, lean accepted by file or flag, anything else rejected")
    func peerTransport() throws {
        #expect(ServerConfig().peerTransport == "lean")
        var c = try ServerConfig.load(toml: "[peer]\ntransport = \"grpc\"\n[cluster]\npeers = [\"1=127.0.0.1:2380\"]")
        #expect(c.peerTransport == "grpc")
        _ = try c.validate()
        try c.set("peer.transport", text: "lean")
        #expect(c.peerTransport == "lean")
        try c.set("peer.transport", text: "quic")
        #expect(throws: ServerConfig.ConfigError("peer.transport must be one of grpc, lean, got 'quic'")) { _ = try c.validate() }
    }

    @Test("renderTOML round-trips a changed config")
    func roundTrip() throws {
        var c = ServerConfig()
        c.nodeID = 3
        c.peers = ["1=a:1", "3=b:2"]
        c.reconnectJitter = 0.5
        c.logLevel = "debug"
        c.peerTransport = "grpc"
        #expect(try ServerConfig.load(toml: c.renderTOML()) == c)
    }
}

@Suite("AdminProtocol and RangeRouter")
struct AdminProtocolTests {
    @Test("requests, replies and status round-trip; truncated input is rejected")
    func codec() throws {
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var g = seed
        func next() -> UInt64 { g = g &* 6364136223846793005 &+ 1; return g >> 16 }
        let reqs = (0..<20).map { i in
            AdminProtocol.Request(id: next(), op: [.put, .getLocal, .status][i % 3],
                                  key: (0..<Int(next() % 40)).map { _ in UInt8(truncatingIfNeeded: next()) },
                                  value: (0..<Int(next() % 300)).map { _ in UInt8(truncatingIfNeeded: next()) })
        }
        let enc = AdminProtocol.encode(requests: reqs)
        #expect(try AdminProtocol.decodeRequests(enc) == reqs, "seed \(seed)")
        #expect(throws: (any Error).self) { try AdminProtocol.decodeRequests(Array(enc.dropLast())) }
        let replies = [AdminProtocol.Reply(id: 1, code: .ok, number: 42, payload: [1, 2]),
                       AdminProtocol.Reply(id: 2, code: .notLeader, number: 3)]
        #expect(try AdminProtocol.decodeReplies(AdminProtocol.encode(replies: replies)) == replies)
        let status = [AdminProtocol.RangeStatus(rangeID: RangeID(2), leader: NodeID(1), appliedIndex: 9,
                                                isLeader: true, quiesced: false),
                      AdminProtocol.RangeStatus(rangeID: RangeID(3), leader: NodeID(0), appliedIndex: 0,
                                                isLeader: false, quiesced: true)]
        #expect(try AdminProtocol.decodeStatus(AdminProtocol.encode(status: status)) == status)
    }

    @Test("keys route to the bootstrap range that contains them")
    func routing() {
        for n in [1, 3, 8, 300] {
            let descriptors = BootstrapConfig(nodes: [NodeID(1)], rangeCount: n).descriptors
            let router = RangeRouter(descriptors)
            for key: [UInt8] in [[], [0], [1, 2], [127], [200, 1], [255, 255, 255]] {
                let expected = descriptors.first { $0.contains(key) }?.rangeID
                #expect(router.range(for: key) == expected, "n=\(n) key=\(key)")
            }
        }
    }
}
