import API
import Base
import Foundation
import MVCC
import Router
import Testing
import TestSupport

/// The real etcdctl 3.4 (Debian `etcd-client`) against the etcd gRPC services over a
/// Router over a 4-range `FakeCluster`: reads, deletes and watches spanning ranges, the
/// cross-range txn refusal and lease errors as a client sees them.
@Suite struct RouterEtcdctlTests {
    static let etcdctl = "/usr/bin/etcdctl"

    struct Output {
        var status: Int32
        var out: String
        var err: String
        var lines: [String] { out.split(separator: "\n").map(String.init) }
    }

    /// Runs etcdctl to completion on a thread of its own: the server answering it lives in
    /// this process and needs the cooperative pool's threads.
    static func run(_ args: [String], port: Int, stdin: String? = nil, timeoutSeconds: Int? = nil) async throws -> Output {
        try await onOwnThread(cpuBound: false) { try runBlocking(args, port: port, stdin: stdin, timeoutSeconds: timeoutSeconds) }
    }

    static func runBlocking(_ args: [String], port: Int, stdin: String?, timeoutSeconds: Int?) throws -> Output {
        let p = Process()
        var all = ["--endpoints=127.0.0.1:\(port)", "--dial-timeout=3s", "--command-timeout=10s"] + args
        if let t = timeoutSeconds {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            all = ["\(t)", etcdctl] + all
        } else {
            p.executableURL = URL(fileURLWithPath: etcdctl)
        }
        p.arguments = all
        var env = ProcessInfo.processInfo.environment
        env["ETCDCTL_API"] = "3"
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcdctl)))
    func etcdctlAcrossRanges() async throws {
        let (router, _) = try makeRouter()
        // Composed as the server composes it: the node's alarms guard the router's KV.
        let node = NodeMaintenanceDouble(router: router)
        var options = EtcdServer.Options(port: 0)
        options.keepaliveMinTime = .seconds(5)
        let server = EtcdServer(
            services: EtcdServer.services(kv: QuotaKVBackend(inner: router, noSpace: { node.noSpace }), watch: router,
                                          lease: router, cluster: router, maintenance: node),
            options: options)
        let serving = Task { try await server.serve() }
        defer {
            server.shutdown()
            serving.cancel()
        }
        let port = try await server.listeningPort()

        for (k, v) in [("k05", "a"), ("k15", "b"), ("k25", "c"), ("k35", "d")] {
            let r = try await Self.run(["put", k, v], port: port)
            #expect(r.status == 0 && r.lines == ["OK"], "\(r.err)")
        }
        var r = try await Self.run(["get", "k", "--prefix"], port: port)
        #expect(r.lines == ["k05", "a", "k15", "b", "k25", "c", "k35", "d"], "\(r.err)")
        r = try await Self.run(["get", "k", "--prefix", "--limit=2", "--sort-by=MODIFY", "--order=DESCEND", "--keys-only"], port: port)
        #expect(r.lines == ["k35", "k25"], "\(r.err)")
        r = try await Self.run(["del", "k1", "k3", "--prev-kv"], port: port)
        #expect(r.lines == ["2", "k15", "b", "k25", "c"], "\(r.err)")

        r = try await Self.run(["txn"], port: port, stdin: "value(\"k05\") = \"a\"\n\nput k05 x\nput k35 y\n\n\n")
        #expect(r.status != 0)
        #expect(r.err.contains("flotilla: txn spans ranges 2, 5; cross-range transactions are not supported"), "\(r.err)")
        r = try await Self.run(["txn"], port: port, stdin: "value(\"k05\") = \"a\"\n\nput k05 x\nput k06 y\n\n\n")
        #expect(r.lines.first == "SUCCESS", "\(r.err)")

        r = try await Self.run(["put", "k07", "v", "--lease=1234"], port: port)
        #expect(r.err.contains("etcdserver: requested lease not found"), "\(r.err)")
        r = try await Self.run(["lease", "grant", "60"], port: port)
        let leaseHex = r.out.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        #expect(r.out.contains("granted with TTL(60s)"), "\(r.out) \(r.err)")
        for k in ["k08", "k28"] {
            r = try await Self.run(["put", k, "l", "--lease=\(leaseHex)"], port: port)
            #expect(r.lines == ["OK"], "\(r.err)")
        }
        r = try await Self.run(["lease", "timetolive", leaseHex, "--keys"], port: port)
        #expect(r.out.contains("attached keys([k08 k28])"), "\(r.out) \(r.err)")
        r = try await Self.run(["lease", "revoke", leaseHex], port: port)
        #expect(r.out.contains("revoked"), "\(r.err)")
        r = try await Self.run(["get", "k", "--prefix", "--keys-only"], port: port)
        #expect(r.lines == ["k05", "k06", "k35"], "\(r.err)")

        r = try await Self.run(["watch", "--prefix", "k", "--rev=1"], port: port, timeoutSeconds: 3)
        let kinds = r.lines.filter { $0 == "PUT" || $0 == "DELETE" }
        #expect(kinds == ["PUT", "PUT", "PUT", "PUT", "DELETE", "DELETE", "PUT", "PUT", "PUT", "PUT", "DELETE", "DELETE"],
                "\(r.out) \(r.err)")

        r = try await Self.run(["member", "list"], port: port)
        #expect(r.lines.count == 3, "\(r.err)")
        r = try await Self.run(["alarm", "list"], port: port)
        #expect(r.lines.isEmpty, "\(r.err)")
        _ = try await node.alarm(.activate, memberID: 0, alarm: .noSpace)
        r = try await Self.run(["put", "k09", "v"], port: port)
        #expect(r.err.contains("etcdserver: mvcc: database space exceeded"), "\(r.err)")
        r = try await Self.run(["alarm", "list"], port: port)
        #expect(r.lines == ["memberID:1 alarm:NOSPACE "], "\(r.err)")
        r = try await Self.run(["alarm", "disarm"], port: port)
        #expect(r.status == 0, "\(r.err)")
        #expect(node.noSpace == false)
        r = try await Self.run(["put", "k09", "v"], port: port)
        #expect(r.lines == ["OK"], "\(r.err)")
    }
}
