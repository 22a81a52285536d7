import API
import Foundation
import Testing

/// The real etcdctl 3.4 against EtcdServer + SingleStoreBackend on a loopback port. Expected
/// outputs are what etcd 3.4 prints for the same commands (simple and JSON formats).
@Suite(.serialized, .enabled(if: Etcdctl.installed, "etcdctl (Debian etcd-client) is not installed"))
struct EtcdctlInteropTests {
    static func ctl(_ endpoint: String, _ args: String..., stdin: String? = nil) async throws -> Etcdctl.Result {
        let r = try await Etcdctl.run(args, endpoint: endpoint, stdin: stdin)
        return r
    }

    static func json(_ r: Etcdctl.Result) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
    }

    @Test func putAndGetWithPrefixLimitSortRevKeysOnlyCountOnly() async throws {
        try await withLoopbackServer { ep, _ in
            var r = try await Self.ctl(ep, "put", "foo", "bar")
            #expect(r.status == 0, "\(r.err)")
            #expect(r.lines == ["OK"])
            r = try await Self.ctl(ep, "get", "foo")
            #expect(r.lines == ["foo", "bar"])
            for (k, v) in [("k/1", "a"), ("k/2", "b"), ("k/3", "c")] { _ = try await Self.ctl(ep, "put", k, v) }
            r = try await Self.ctl(ep, "get", "--prefix", "k/")
            #expect(r.lines == ["k/1", "a", "k/2", "b", "k/3", "c"])
            r = try await Self.ctl(ep, "get", "--prefix", "k/", "--limit=2")
            #expect(r.lines == ["k/1", "a", "k/2", "b"])
            r = try await Self.ctl(ep, "get", "--prefix", "k/", "--sort-by=KEY", "--order=DESCEND")
            #expect(r.lines == ["k/3", "c", "k/2", "b", "k/1", "a"])
            r = try await Self.ctl(ep, "get", "--prefix", "k/", "--sort-by=VALUE", "--order=DESCEND", "--limit=1")
            #expect(r.lines == ["k/3", "c"])
            r = try await Self.ctl(ep, "get", "--prefix", "k/", "--keys-only")
            #expect(r.lines == ["k/1", "k/2", "k/3"])
            // etcdctl 3.4 has no --count-only (3.5 added it; KVServiceTests covers count_only):
            // the count is in the JSON answer.
            r = try await Self.ctl(ep, "get", "--prefix", "k/", "--limit=1", "-w", "json")
            #expect(Self.json(r)["count"] as? Int == 3, "\(r.out) \(r.err)")
            #expect(Self.json(r)["more"] as? Bool == true, "\(r.out)")
            #expect((Self.json(r)["kvs"] as? [Any])?.count == 1)
            // --rev: foo was written at revision 2 (etcd's first write), then overwritten.
            _ = try await Self.ctl(ep, "put", "foo", "baz")
            r = try await Self.ctl(ep, "get", "foo", "--rev=2")
            #expect(r.lines == ["foo", "bar"])
            r = try await Self.ctl(ep, "get", "foo", "-w", "json")
            let header = Self.json(r)["header"] as? [String: Any]
            #expect(header?["revision"] as? Int == 6)
            #expect(header?["cluster_id"] != nil)
            // Request too large (1.5 MiB + 1 byte value, below gRPC's 2 MiB).
            r = try await Self.ctl(ep, "put", "big", stdin: String(repeating: "x", count: 3 * 512 * 1024 + 1))
            #expect(r.status != 0)
            #expect(r.err.contains("etcdserver: request is too large"), "\(r.err)")
        }
    }

    @Test func deleteWithPrefixAndPrevKV() async throws {
        try await withLoopbackServer { ep, _ in
            for k in ["d/1", "d/2", "e"] { _ = try await Self.ctl(ep, "put", k, "v-\(k)") }
            var r = try await Self.ctl(ep, "del", "--prefix", "d/")
            #expect(r.lines == ["2"])
            r = try await Self.ctl(ep, "del", "e", "--prev-kv")
            #expect(r.lines == ["1", "e", "v-e"])
            r = try await Self.ctl(ep, "del", "nothing")
            #expect(r.lines == ["0"])
            r = try await Self.ctl(ep, "get", "--prefix", "")
            #expect(r.lines.isEmpty)
        }
    }

    @Test func interactiveTxn() async throws {
        try await withLoopbackServer { ep, _ in
            _ = try await Self.ctl(ep, "put", "k1", "v1")
            let script = """
                value("k1") = "v1"

                put k2 yes
                get k1

                put k2 no


                """
            var r = try await Self.ctl(ep, "txn", stdin: script)
            #expect(r.status == 0, "\(r.err)")
            #expect(r.lines == ["SUCCESS", "OK", "k1", "v1"])
            r = try await Self.ctl(ep, "get", "k2")
            #expect(r.lines == ["k2", "yes"])
            let failing = """
                mod("k1") > "100"

                put k3 then

                del k2


                """
            r = try await Self.ctl(ep, "txn", stdin: failing)
            #expect(r.lines == ["FAILURE", "1"])
            r = try await Self.ctl(ep, "get", "k2")
            #expect(r.lines.isEmpty)
        }
    }

    @Test func watchPrefixRevAndPrevKV() async throws {
        try await withLoopbackServer { ep, _ in
            _ = try await Self.ctl(ep, "put", "w/0", "old")  // revision 2
            // From revision 3 (the next write): the same events whether the watch is
            // established before or after the writes below.
            let live = try Etcdctl.Background(["watch", "--prefix", "w/", "--prev-kv", "--rev=3"], endpoint: ep)
            defer { live.stop() }
            try await Task.sleep(for: .milliseconds(200))
            _ = try await Self.ctl(ep, "put", "w/0", "new")
            _ = try await Self.ctl(ep, "put", "other", "x")
            _ = try await Self.ctl(ep, "del", "w/0")
            let lines = await live.waitForLines(8)
            #expect(Array(lines.prefix(5)) == ["PUT", "w/0", "old", "w/0", "new"], "\(lines)")
            #expect(lines.dropFirst(5).first == "DELETE", "\(lines)")
            // History replay from revision 2.
            let replay = try Etcdctl.Background(["watch", "--rev=2", "w/0"], endpoint: ep)
            defer { replay.stop() }
            let history = await replay.waitForLines(7)
            #expect(history == ["PUT", "w/0", "old", "PUT", "w/0", "new", "DELETE", "w/0"].prefix(history.count).map { $0 })
            #expect(history.count >= 7, "\(history)")
        }
    }

    static func leaseID(_ grantOutput: String) -> String? {
        // "lease 694d77aa9e38260f granted with TTL(60s)"
        let parts = grantOutput.split(separator: " ")
        return parts.count > 1 && parts[0] == "lease" ? String(parts[1]) : nil
    }

    @Test func leaseGrantKeepAliveTimeToLiveRevoke() async throws {
        try await withLoopbackServer { ep, _ in
            var r = try await Self.ctl(ep, "lease", "grant", "60")
            #expect(r.out.hasSuffix("granted with TTL(60s)\n"), "\(r.out) \(r.err)")
            let id = try #require(Self.leaseID(r.out))
            r = try await Self.ctl(ep, "put", "--lease=\(id)", "lk", "lv")
            #expect(r.lines == ["OK"], "\(r.err)")
            r = try await Self.ctl(ep, "lease", "timetolive", id, "--keys")
            #expect(r.out.hasPrefix("lease \(id) granted with TTL(60s), remaining("), "\(r.out)")
            #expect(r.out.hasSuffix("attached keys([lk])\n"), "\(r.out)")
            r = try await Self.ctl(ep, "lease", "keep-alive", "--once", id)
            #expect(r.lines == ["lease \(id) keepalived with TTL(60)"], "\(r.out) \(r.err)")
            r = try await Self.ctl(ep, "lease", "list")
            #expect(r.lines == ["found 1 leases", id])
            r = try await Self.ctl(ep, "lease", "revoke", id)
            #expect(r.lines == ["lease \(id) revoked"])
            r = try await Self.ctl(ep, "get", "lk")
            #expect(r.lines.isEmpty)
            r = try await Self.ctl(ep, "lease", "timetolive", id)
            #expect(r.lines == ["lease \(id) already expired"], "\(r.out)")
            r = try await Self.ctl(ep, "lease", "revoke", id)
            #expect(r.status != 0)
            #expect(r.err.contains("etcdserver: requested lease not found"), "\(r.err)")
            r = try await Self.ctl(ep, "put", "--lease=\(id)", "lk", "lv")
            #expect(r.err.contains("etcdserver: requested lease not found"), "\(r.err)")
        }
    }

    @Test func compactionEndpointStatusMemberListSnapshot() async throws {
        var config = SingleStoreBackend.Config()
        config.name = "solo"
        config.clientURLs = ["http://127.0.0.1:2379"]
        config.peerURLs = ["http://127.0.0.1:2380"]
        let memberHex = String(config.memberID, radix: 16)
        try await withLoopbackServer(config: config) { ep, _ in
            for i in 0..<4 { _ = try await Self.ctl(ep, "put", "c", "\(i)") }  // revisions 2...5
            var r = try await Self.ctl(ep, "compaction", "4")
            #expect(r.lines == ["compacted revision 4"], "\(r.err)")
            r = try await Self.ctl(ep, "get", "c", "--rev=3")
            #expect(r.status != 0)
            #expect(r.err.contains("etcdserver: mvcc: required revision has been compacted"), "\(r.err)")
            r = try await Self.ctl(ep, "get", "c", "--rev=99")
            #expect(r.err.contains("etcdserver: mvcc: required revision is a future revision"), "\(r.err)")
            r = try await Self.ctl(ep, "compaction", "4")
            #expect(r.err.contains("etcdserver: mvcc: required revision has been compacted"), "\(r.err)")

            r = try await Self.ctl(ep, "endpoint", "status")
            let fields = r.out.trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: ", ")
            // endpoint, ID, version, db size, is leader, is learner, raft term, raft index, applied, errors
            #expect(fields.count >= 9, "\(r.out) \(r.err)")
            if fields.count >= 9 {
                #expect(fields[0] == ep)
                #expect(fields[1] == memberHex)
                #expect(fields[2] == "3.4.23")
                #expect(fields[4] == "true")
                #expect(fields[5] == "false")
                #expect(fields[7] == "5")
            }
            r = try await Self.ctl(ep, "member", "list")
            #expect(
                r.lines == ["\(memberHex), started, solo, http://127.0.0.1:2380, http://127.0.0.1:2379, false"],
                "\(r.out) \(r.err)")
            r = try await Self.ctl(ep, "endpoint", "hashkv", "-w", "json")
            #expect(r.status == 0, "\(r.err)")

            let file = Etcdctl.tempFile("snap.db")
            defer { try? FileManager.default.removeItem(at: file) }
            r = try await Self.ctl(ep, "snapshot", "save", file.path)
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out.contains("Snapshot saved at \(file.path)"), "\(r.out)")
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
            #expect(size > 0)
        }
    }
}
