import API
import Foundation
import Testing

/// By-hand comparison with a real etcd 3.4 (Debian `etcd-server`): the same etcdctl script
/// against a one-member etcd and against Flotilla, outputs compared line by line after
/// masking lease IDs. Not for CI (starts etcd): FLOTILLA_ETCD_COMPARE=1.
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_ETCD_COMPARE"] == "1", "set FLOTILLA_ETCD_COMPARE=1"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") && Etcdctl.installed))
struct EtcdComparisonTests {
    /// (args, stdin) — every command is run against both servers in order.
    static let script: [([String], String?)] = [
        (["put", "foo", "bar"], nil), (["get", "foo"], nil), (["put", "foo", "baz"], nil),
        (["get", "foo", "--rev=2"], nil), (["put", "k/1", "a"], nil), (["put", "k/2", "b"], nil),
        (["put", "k/3", "c"], nil), (["get", "--prefix", "k/"], nil), (["get", "--prefix", "k/", "--limit=2"], nil),
        (["get", "--prefix", "k/", "--sort-by=VALUE", "--order=DESCEND"], nil),
        (["get", "--prefix", "k/", "--keys-only"], nil), (["get", "--from-key", "k/2"], nil),
        (["del", "k/1", "--prev-kv"], nil), (["del", "--prefix", "k/"], nil), (["del", "nothing"], nil),
        (["txn"], "value(\"foo\") = \"baz\"\n\nput t yes\nget foo\n\nput t no\n\n"),
        (["txn"], "mod(\"foo\") > \"100\"\n\nput t2 x\n\ndel t\n\n"),
        (["get", "t"], nil), (["compaction", "3"], nil), (["get", "foo", "--rev=2"], nil),
        (["get", "foo", "--rev=99"], nil), (["lease", "revoke", "1234"], nil), (["put", "--lease=1234", "x", "y"], nil),
        (["lease", "timetolive", "1234"], nil), (["lease", "grant", "60"], nil), (["lease", "list"], nil),
        (["put", "big"], String(repeating: "x", count: 3 * 512 * 1024 + 1)),
        (["get", "foo", "-w", "json"], nil),
    ]

    static func normalize(_ s: String) -> [String] {
        s.split(separator: "\n").map { line in
            var l = String(line)
            if let r = l.range(of: #"lease [0-9a-f]+ "#, options: .regularExpression) { l.replaceSubrange(r, with: "lease ID ") }
            if l.range(of: #"^[0-9a-f]{12,16}$"#, options: .regularExpression) != nil { l = "ID" }
            if l.hasPrefix("{\"level\"") { return "" }
            if l.hasPrefix("{\"header\""), let r = l.range(of: #"\"revision\":[0-9]+"#, options: .regularExpression) {
                l = String(l[r])
            }
            return l
        }.filter { !$0.isEmpty }
    }

    static func runScript(_ endpoint: String) async throws -> [[String]] {
        var outputs: [[String]] = []
        for (args, stdin) in script {
            let r = try await Etcdctl.run(args, endpoint: endpoint, stdin: stdin)
            outputs.append(normalize(r.out) + normalize(r.err).map { "ERR " + $0 })
        }
        return outputs
    }

    @Test(.timeLimit(.minutes(2)))
    func sameOutputsAsEtcd34() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-\(UUID().uuidString)")
        let etcd = Process()
        etcd.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        etcd.arguments = [
            "--data-dir", dir.path, "--listen-client-urls", "http://127.0.0.1:23790",
            "--advertise-client-urls", "http://127.0.0.1:23790", "--listen-peer-urls", "http://127.0.0.1:23800",
        ]
        etcd.standardOutput = FileHandle.nullDevice
        etcd.standardError = FileHandle.nullDevice
        try etcd.run()
        defer {
            etcd.terminate()
            etcd.waitUntilExit()
            try? FileManager.default.removeItem(at: dir)
        }
        var ready = false
        for _ in 0..<100 where !ready {
            try await Task.sleep(for: .milliseconds(100))
            ready = (try? await Etcdctl.run(["endpoint", "health"], endpoint: "127.0.0.1:23790"))?.status == 0
        }
        try #require(ready, "etcd did not start")
        let expected = try await Self.runScript("127.0.0.1:23790")
        let actual = try await withLoopbackServer { ep, _ in try await Self.runScript(ep) }
        #expect(expected.count == Self.script.count && actual.count == Self.script.count)
        for (i, (e, a)) in zip(expected, actual).enumerated() {
            print("\(Self.script[i].0.joined(separator: " ")) -> etcd \(e) | flotilla \(a)")
            if i == Self.script.count - 1 {
                // Header revision after the script: Flotilla's "del nothing" consumed a
                // revision (MVCC request filed), etcd's did not.
                withKnownIssue("a DeleteRange that deletes nothing consumes a revision") {
                    #expect(a == e, "header revision: etcd \(e) flotilla \(a)")
                }
            } else {
                #expect(a == e, "command \(Self.script[i].0): etcd \(e) flotilla \(a)")
            }
        }
    }
}
