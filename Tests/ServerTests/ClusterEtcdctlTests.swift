import Foundation
import Testing

extension ClusterProcessSuites {
    /// The real etcdctl 3.4 against three real `flotilla serve` processes with 8 ranges (the
    /// keyspace split by first byte into eighths: "0…" lies in range [0x20, 0x40), "A…" in
    /// [0x40, 0x60), "a…" in [0x60, 0x80)), each command sent to some node and checked from
    /// another. Revisions come from the cluster's oracle, so they are compared by order, never
    /// by value.
    @Suite("etcdctl against a 3-node cluster with 8 ranges", .serialized,
           .enabled(if: ClusterHarness.binaryExists && Etcdctl.installed, "needs .build/debug/flotilla and etcdctl"))
    final class ClusterEtcdctlTests {
        let h: ClusterHarness

        init() async throws {
            h = try ClusterHarness(nodes: 3, ranges: 8)
            try h.startAll()
            let led = await h.waitAllLed()
            try #require(led, "not every range elected a leader; log of node 1:\n\(h.log(1).suffix(2000))")
            // The API answers once the system range serves revisions.
            let ready = await eventually(.seconds(30)) {
                (try? await Etcdctl.run(["put", "ready", "1"], endpoint: self.h.endpoint(1)).status) == 0
            }
            try #require(ready, "the etcd API never answered; log of node 1:\n\(h.log(1).suffix(2000))")
        }

        deinit { h.shutdown() }

        func ctl(_ node: Int, _ args: String..., stdin: String? = nil) async throws -> Etcdctl.Result {
            try await Etcdctl.run(args, endpoint: h.endpoint(node), stdin: stdin)
        }

        static func json(_ r: Etcdctl.Result) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        }

        static func revision(_ r: Etcdctl.Result) -> Int? {
            (json(r)["header"] as? [String: Any])?["revision"] as? Int
        }

        @Test("put on one node, get from another: prefix, from-key across ranges, limit, sort, rev, keys-only, count")
        func putGet() async throws {
            for (i, k) in ["0k", "Ak", "ak", "Ak/1", "Ak/2"].enumerated() {
                let r = try await ctl(i % 3 + 1, "put", k, "v-\(k)")
                #expect(r.lines == ["OK"], "put \(k): \(r.err)")
            }
            var r = try await ctl(2, "get", "Ak")
            #expect(r.lines == ["Ak", "v-Ak"], "\(r.err)")
            r = try await ctl(3, "get", "--prefix", "Ak/")
            #expect(r.lines == ["Ak/1", "v-Ak/1", "Ak/2", "v-Ak/2"], "\(r.err)")
            // Spans three ranges.
            r = try await ctl(1, "get", "--from-key", "0", "--keys-only")
            #expect(r.lines == ["0k", "Ak", "Ak/1", "Ak/2", "ak", "ready"], "\(r.err)")
            r = try await ctl(2, "get", "--from-key", "0", "--limit=2", "-w", "json")
            #expect(Self.json(r)["count"] as? Int == 6, "\(r.out) \(r.err)")
            #expect(Self.json(r)["more"] as? Bool == true, "\(r.out)")
            #expect((Self.json(r)["kvs"] as? [Any])?.count == 2)
            r = try await ctl(3, "get", "--from-key", "0", "--sort-by=KEY", "--order=DESCEND", "--keys-only", "--limit=3")
            #expect(r.lines == ["ready", "ak", "Ak/2"], "\(r.err)")
            r = try await ctl(1, "get", "--from-key", "0", "--sort-by=VALUE", "--order=ASCEND", "--limit=1")
            #expect(r.lines == ["ready", "1"], "\(r.err)")
            // --rev: the value before an overwrite, from another node.
            r = try await ctl(1, "put", "ak", "second", "-w", "json")
            let second = try #require(Self.revision(r), "\(r.out)")
            r = try await ctl(2, "get", "ak", "--rev=\(second - 1)")
            #expect(r.lines == ["ak", "v-ak"], "\(r.err)")
            r = try await ctl(3, "get", "ak", "--rev=\(second)")
            #expect(r.lines == ["ak", "second"], "\(r.err)")
            r = try await ctl(1, "get", "ak", "--rev=\(second + 1_000_000)")
            #expect(r.err.contains("etcdserver: mvcc: required revision is a future revision"), "\(r.err)")
        }

        @Test("revisions increase across ranges and nodes in real-time order")
        func revisionsIncrease() async throws {
            var last = 0
            for i in 0..<12 {
                let key = ["0r\(i)", "Ar\(i)", "ar\(i)"][i % 3]
                let r = try await ctl(i % 3 + 1, "put", key, "x", "-w", "json")
                let rev = try #require(Self.revision(r), "\(r.out) \(r.err)")
                #expect(rev > last, "put \(key) on node \(i % 3 + 1) got revision \(rev) after \(last)")
                last = rev
            }
            let r = try await ctl(2, "get", "x-none", "-w", "json")
            #expect((Self.revision(r) ?? 0) >= last, "a read's header revision is below an earlier write's")
        }

        @Test("del with prefix and prev-kv; a delete spanning ranges reports the total")
        func delete() async throws {
            for k in ["0d", "Ad", "ad", "ad/1"] {
                let r = try await ctl(1, "put", k, "v-\(k)")
                #expect(r.lines == ["OK"], "put \(k): \(r.err)")
            }
            var r = try await ctl(2, "del", "--prefix", "ad")
            #expect(r.lines == ["2"], "\(r.err)")
            r = try await ctl(3, "del", "0d", "--prev-kv")
            #expect(r.lines == ["1", "0d", "v-0d"], "\(r.err)")
            r = try await ctl(1, "del", "--from-key", "0")
            #expect(r.lines.first.flatMap { Int($0) } ?? 0 >= 2, "\(r.out) \(r.err)")
            r = try await ctl(2, "get", "--from-key", "0")
            #expect(r.lines.isEmpty, "\(r.out)")
        }

        @Test("txn in one range commits atomically; a txn spanning ranges fails with FailedPrecondition")
        func txn() async throws {
            _ = try await ctl(1, "put", "ak1", "v1")
            var r = try await ctl(2, "txn", stdin: """
                value("ak1") = "v1"

                put ak2 yes
                get ak1

                put ak2 no


                """)
            #expect(r.lines == ["SUCCESS", "OK", "ak1", "v1"], "\(r.out) \(r.err)")
            r = try await ctl(3, "get", "ak2")
            #expect(r.lines == ["ak2", "yes"])
            r = try await ctl(1, "txn", stdin: """
                value("ak1") = "v1"

                put Ak2 other-range



                """)
            #expect(r.status != 0)
            #expect(r.err.contains("span"), "\(r.err)")
        }

        @Test("watch a prefix from a revision with prev-kv, on another node than the writes")
        func watch() async throws {
            var r = try await ctl(1, "put", "aw/0", "old", "-w", "json")
            let start = try #require(Self.revision(r)) + 1
            let live = try Etcdctl.Background(["watch", "--prefix", "aw/", "--prev-kv", "--rev=\(start)"], endpoint: h.endpoint(2))
            defer { live.stop() }
            try await Task.sleep(for: .milliseconds(300))
            _ = try await ctl(3, "put", "aw/0", "new")
            _ = try await ctl(1, "put", "Aw/other", "x")
            r = try await ctl(3, "del", "aw/0")
            let lines = await live.waitForLines(8, timeout: .seconds(20))
            #expect(Array(lines.prefix(5)) == ["PUT", "aw/0", "old", "aw/0", "new"], "\(lines)")
            #expect(lines.dropFirst(5).first == "DELETE", "\(lines)")
            // A watch over every range sees writes of all of them, in revision order.
            let all = try Etcdctl.Background(["watch", "0", "b"], endpoint: h.endpoint(3))
            defer { all.stop() }
            try await Task.sleep(for: .milliseconds(300))
            for k in ["0w", "Aw", "aw"] { _ = try await ctl(1, "put", k, "v") }
            let seen = await all.waitForLines(9, timeout: .seconds(20))
            #expect(seen == ["PUT", "0w", "v", "PUT", "Aw", "v", "PUT", "aw", "v"], "\(seen)")
        }

        static func leaseID(_ grantOutput: String) -> String? {
            let parts = grantOutput.split(separator: " ")
            return parts.count > 1 && parts[0] == "lease" ? String(parts[1]) : nil
        }

        @Test("lease grant, keys in several ranges, keep-alive, timetolive, revoke deletes them everywhere")
        func lease() async throws {
            var r = try await ctl(1, "lease", "grant", "60")
            #expect(r.out.hasSuffix("granted with TTL(60s)\n"), "\(r.out) \(r.err)")
            let id = try #require(Self.leaseID(r.out))
            for (n, k) in [(1, "0l"), (2, "Al"), (3, "al")] {
                r = try await ctl(n, "put", "--lease=\(id)", k, "v")
                #expect(r.lines == ["OK"], "\(r.err)")
            }
            r = try await ctl(2, "lease", "timetolive", id, "--keys")
            #expect(r.out.hasPrefix("lease \(id) granted with TTL(60s), remaining("), "\(r.out) \(r.err)")
            #expect(r.out.hasSuffix("attached keys([0l Al al])\n"), "\(r.out)")
            r = try await ctl(3, "lease", "keep-alive", "--once", id)
            #expect(r.lines == ["lease \(id) keepalived with TTL(60)"], "\(r.out) \(r.err)")
            r = try await ctl(1, "lease", "list")
            #expect(r.lines == ["found 1 leases", id], "\(r.out) \(r.err)")
            r = try await ctl(2, "lease", "revoke", id)
            #expect(r.lines == ["lease \(id) revoked"], "\(r.err)")
            r = try await ctl(3, "get", "--from-key", "0", "--keys-only")
            #expect(!r.lines.contains("0l") && !r.lines.contains("Al") && !r.lines.contains("al"), "\(r.out)")
            r = try await ctl(1, "put", "--lease=\(id)", "al", "v")
            #expect(r.err.contains("etcdserver: requested lease not found"), "\(r.err)")
            // Expiry deletes the keys too.
            r = try await ctl(1, "lease", "grant", "2")
            let short = try #require(Self.leaseID(r.out))
            _ = try await ctl(2, "put", "--lease=\(short)", "Aexp", "v")
            let gone = await eventually(.seconds(15)) {
                (try? await self.ctl(3, "get", "Aexp"))?.lines.isEmpty == true
            }
            #expect(gone, "a key attached to an expired lease is still there")
        }

        @Test("compaction, endpoint status, member list, hashkv, snapshot save")
        func maintenance() async throws {
            var rev = 0
            for i in 0..<3 {
                let r = try await ctl(1, "put", "ac", "\(i)", "-w", "json")
                rev = Self.revision(r) ?? 0
            }
            var r = try await ctl(2, "compaction", "\(rev)")
            #expect(r.lines == ["compacted revision \(rev)"], "\(r.err)")
            r = try await ctl(3, "get", "ac", "--rev=\(rev - 1)")
            #expect(r.err.contains("etcdserver: mvcc: required revision has been compacted"), "\(r.err)")
            r = try await ctl(1, "endpoint", "status", "--endpoints=\(h.endpoint(1)),\(h.endpoint(2)),\(h.endpoint(3))")
            let statuses = r.lines.filter { $0.hasPrefix("127.0.0.1:") }
            // (etcdctl also keeps the suite's own --endpoints, so node 1 may be listed twice.)
            for i in 1...3 { #expect(statuses.contains { $0.hasPrefix(h.endpoint(i) + ",") }, "\(r.out) \(r.err)") }
            for line in statuses { #expect(line.contains("3.4.23"), "\(line)") }
            r = try await ctl(2, "member", "list")
            #expect(r.lines.count == 3, "\(r.out) \(r.err)")
            for i in 1...3 { #expect(r.out.contains(h.endpoint(i)), "\(r.out)") }
            r = try await ctl(3, "endpoint", "hashkv")
            #expect(r.status == 0, "\(r.err)")
            let file = Etcdctl.tempFile("cluster-snap.db")
            defer { try? FileManager.default.removeItem(at: file) }
            r = try await ctl(1, "snapshot", "save", file.path)
            #expect(r.out.contains("Snapshot saved at \(file.path)"), "\(r.out) \(r.err)")
        }
    }
}
