import Foundation
import Testing

extension ClusterProcessSuites {
    /// `flotctl snapshot save` / `snapshot restore` on real processes: a 3-node cluster with 8
    /// ranges gets writes in every range (overwrites, deletes, keys on two leases), is backed
    /// up with flotctl and with the real etcdctl, stopped, restored into three new data
    /// directories and started as a new cluster on new ports; every key must come back with its
    /// value, create/mod revision, version and lease, the leases with their TTLs, and new writes
    /// must get revisions above the backup's.
    @Suite("snapshot save/restore round-trips a cluster", .serialized,
           .enabled(if: ClusterHarness.binaryExists && Flotctl.exists && Etcdctl.installed,
                    "needs .build/debug/flotilla, .build/debug/flotctl and etcdctl"))
    struct ClusterBackupProcessTests {
        /// One key as `etcdctl get -w json` shows it.
        struct KV: Equatable, CustomStringConvertible {
            var key: [UInt8]
            var value: [UInt8]
            var create: Int
            var mod: Int
            var version: Int
            var lease: Int
            var description: String { "\(key)=\(value.count)B c\(create) m\(mod) v\(version) l\(lease)" }
        }

        static func json(_ text: String) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }

        /// Every key of the cluster through node `endpoint`, and the header revision.
        static func readAll(_ endpoint: String) async throws -> (revision: Int, kvs: [KV]) {
            let r = try await Etcdctl.run(["get", "", "--from-key", "-w", "json"], endpoint: endpoint)
            let j = json(r.out)
            let revision = (j["header"] as? [String: Any])?["revision"] as? Int ?? -1
            let kvs = (j["kvs"] as? [[String: Any]] ?? []).map { kv in
                KV(key: [UInt8](Data(base64Encoded: kv["key"] as? String ?? "") ?? Data()),
                   value: [UInt8](Data(base64Encoded: kv["value"] as? String ?? "") ?? Data()),
                   create: kv["create_revision"] as? Int ?? 0, mod: kv["mod_revision"] as? Int ?? 0,
                   version: kv["version"] as? Int ?? 0, lease: kv["lease"] as? Int ?? 0)
            }
            return (revision, kvs)
        }

        static func grant(_ ttl: Int, _ endpoint: String) async throws -> String {
            let r = try await Etcdctl.run(["lease", "grant", "\(ttl)"], endpoint: endpoint)
            // "lease 694d7a0c1f2f0c0b granted with TTL(600s)"
            let words = r.out.split(separator: " ")
            guard words.count > 1, words[0] == "lease" else { throw CLIFailure(text: "lease grant: \(r.out) \(r.err)") }
            return String(words[1])
        }

        struct CLIFailure: Error { var text: String }

        static func waitServing(_ h: ClusterHarness) async throws {
            let led = await h.waitAllLed()
            try #require(led, "not every range elected a leader; log of node 1:\n\(h.log(1).suffix(2000))")
            let ready = await eventually(.seconds(30)) {
                (try? await Etcdctl.run(["get", "ready"], endpoint: h.endpoint(1)).status) == 0
            }
            try #require(ready, "the etcd API never answered; log of node 1:\n\(h.log(1).suffix(2000))")
        }

        @Test("save with flotctl and etcdctl, restore into 3 new directories, every key, lease and revision back")
        func roundTrip() async throws {
            let a = try ClusterHarness(nodes: 3, ranges: 8, extra: ["--tickIntervalMs", "50"])
            defer { a.shutdown() }
            try a.startAll()
            try await Self.waitServing(a)

            // Keys in every range: the first byte spans the eighths of the keyspace.
            let l1 = try await Self.grant(600, a.endpoint(1))
            let l2 = try await Self.grant(300, a.endpoint(2))
            let prefixes = ["\u{01}", "0", "A", "a", "\u{80}", "\u{A0}", "\u{C0}", "\u{E0}"]
            let endpoint = try EtcdTestEndpoint(port: Int(a.endpoint(3).split(separator: ":")[1])!)
            defer { endpoint.close() }
            for (i, p) in prefixes.enumerated() {
                // Raw first bytes 0x01 … 0xE0 (not all valid UTF-8 starts), through gRPC.
                var key = [UInt8](p.utf8)
                if key.count > 1 { key = [UInt8(p.unicodeScalars.first!.value)] }
                for j in 0..<3 { _ = try await endpoint.put(key + Array("k\(j)".utf8), Array("v\(i)-\(j)".utf8)) }
                _ = try await endpoint.put(key + Array("k0".utf8), Array("overwritten-\(i)".utf8))
                _ = try await endpoint.put(key + Array("k0".utf8), Array("overwritten-again-\(i)".utf8))
            }
            for (n, k) in ["Akd", "akd", "0kd"].enumerated() {
                _ = try await Etcdctl.run(["put", k, "doomed"], endpoint: a.endpoint(n + 1))
                let d = try await Etcdctl.run(["del", k], endpoint: a.endpoint((n + 1) % 3 + 1))
                #expect(d.lines == ["1"], "del \(k): \(d.out) \(d.err)")
            }
            for (n, k) in ["Alease1", "alease1", "zlease1", "0lease1"].enumerated() {
                let r = try await Etcdctl.run(["put", k, "leased", "--lease=\(l1)"], endpoint: a.endpoint(n % 3 + 1))
                #expect(r.lines == ["OK"], "put \(k): \(r.err)")
            }
            let r2 = try await Etcdctl.run(["put", "Blease2", "leased2", "--lease=\(l2)"], endpoint: a.endpoint(2))
            #expect(r2.lines == ["OK"], "\(r2.err)")

            let before = try await Self.readAll(a.endpoint(2))
            #expect(before.kvs.count == 8 * 3 + 5, "\(before.kvs)")
            #expect(Set(before.kvs.map { $0.key.first! }).count >= 8, "keys in every range: \(before.kvs)")

            // Back up through node 2 with flotctl and node 3 with the real etcdctl.
            let dir = a.root + "/backups"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var r = try await Flotctl.run(["--endpoints", a.endpoint(2), "snapshot", "save", dir + "/flot.db"])
            #expect(r.status == 0 && r.out.contains("Snapshot saved at"), "\(r.out) \(r.err)")
            let e = try await Etcdctl.run(["snapshot", "save", dir + "/etcdctl.db"], endpoint: a.endpoint(3))
            #expect(e.status == 0 && e.out.contains("Snapshot saved at"), "\(e.out) \(e.err)")
            for file in ["flot.db", "etcdctl.db"] {
                r = try await Flotctl.run(["snapshot", "status", dir + "/" + file, "-w", "json"])
                let j = Self.json(r.out)
                #expect(r.status == 0 && j["totalKey"] as? Int == before.kvs.count && j["ranges"] as? Int == 8
                        && j["leases"] as? Int == 2, "\(file): \(r.out) \(r.err)")
                #expect((j["revision"] as? Int ?? 0) >= before.revision, "\(file): \(r.out)")
            }
            // The two files hold the same stream: only the header (revision, creation time) and
            // hence the digest differ, as nothing was written between the saves.
            let flotBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/flot.db")))
            let ctlBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/etcdctl.db")))
            #expect(flotBytes.count == ctlBytes.count && flotBytes.prefix(10) == ctlBytes.prefix(10)
                    && flotBytes[34..<(flotBytes.count - 32)] == ctlBytes[34..<(ctlBytes.count - 32)],
                    "flotctl saved \(flotBytes.count) bytes, etcdctl \(ctlBytes.count)")
            r = try await Flotctl.run(["snapshot", "status", dir + "/flot.db", "-w", "json"])
            let backupRevision = try #require(Self.json(r.out)["revision"] as? Int)

            // A corrupted and a truncated copy are refused and leave no directory behind.
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/flot.db")))
            bytes[bytes.count / 2] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/corrupt.db"))
            try Data(bytes.prefix(bytes.count - 700)).write(to: URL(fileURLWithPath: dir + "/short.db"))
            for (file, why) in [("corrupt.db", "corrupted"), ("short.db", "truncated")] {
                r = try await Flotctl.run(["snapshot", "restore", dir + "/" + file, "--data-dir", dir + "/bad",
                                           "--name", "node-1", "--initial-cluster", "node-1=http://127.0.0.1:1",
                                           "--initial-advertise-peer-urls", "http://127.0.0.1:1"])
                #expect(r.status != 0 && r.err.contains(why), "\(file): \(r.out) \(r.err)")
                #expect(!FileManager.default.fileExists(atPath: dir + "/bad"))
            }

            for i in 1...3 { _ = a.terminate(i) }

            // etcdctl's file restores too (into a scratch directory: every member of one cluster
            // must be restored from the same file, as with etcd).
            r = try await Flotctl.run(["snapshot", "restore", dir + "/etcdctl.db", "--data-dir", dir + "/scratch", "--name", "node-1",
                                       "--initial-cluster", "node-1=http://127.0.0.1:1", "--initial-advertise-peer-urls", "http://127.0.0.1:1"])
            #expect(r.status == 0 && r.out.contains("8 ranges, \(before.kvs.count) keys, 2 leases"), "\(r.out) \(r.err)")

            // Restore flotctl's file into a new cluster on new ports.
            let b = try ClusterHarness(nodes: 3, ranges: 8, extra: ["--tickIntervalMs", "50"])
            defer { b.shutdown() }
            let cluster = (1...3).map { "node-\($0)=http://127.0.0.1:\(b.peerPorts[$0 - 1])" }.joined(separator: ",")
            for i in 1...3 {
                let file = dir + "/flot.db"
                r = try await Flotctl.run(["snapshot", "restore", file, "--data-dir", "\(b.root)/node-\(i)", "--name", "node-\(i)",
                                           "--initial-cluster", cluster,
                                           "--initial-advertise-peer-urls", "http://127.0.0.1:\(b.peerPorts[i - 1])"])
                #expect(r.status == 0 && r.out.contains("\(before.kvs.count) keys"), "restore node \(i): \(r.out) \(r.err)")
            }
            try b.startAll()
            try await Self.waitServing(b)

            for node in 1...3 {
                let after = try await Self.readAll(b.endpoint(node))
                #expect(after.kvs == before.kvs, "node \(node): restored state differs:\nbefore \(before.kvs)\nafter  \(after.kvs)")
            }
            let ctlLeases = try await Etcdctl.run(["lease", "list"], endpoint: b.endpoint(3))
            #expect(ctlLeases.lines.count == 3 && ctlLeases.out.contains(l1) && ctlLeases.out.contains(l2), "\(ctlLeases.out)")
            let ttl = try await Etcdctl.run(["lease", "timetolive", l1, "--keys"], endpoint: b.endpoint(2))
            #expect(ttl.out.contains("granted with TTL(600s)") && ttl.out.contains("Alease1"), "\(ttl.out) \(ttl.err)")

            // New writes get revisions above the backup's; revoking a restored lease deletes its keys.
            let put = try await Etcdctl.run(["put", "after-restore", "x", "-w", "json"], endpoint: b.endpoint(2))
            let newRevision = (Self.json(put.out)["header"] as? [String: Any])?["revision"] as? Int ?? 0
            #expect(newRevision > backupRevision && newRevision > before.revision, "\(put.out) \(put.err)")
            let revoke = try await Etcdctl.run(["lease", "revoke", l1], endpoint: b.endpoint(1))
            #expect(revoke.status == 0, "\(revoke.err)")
            let left = try await Self.readAll(b.endpoint(3))
            #expect(left.kvs.filter { $0.lease != 0 }.map(\.key) == [Array("Blease2".utf8)], "\(left.kvs)")
            // History before the backup revision is not in the backup: reads below it are compacted.
            let old = try await Etcdctl.run(["get", "Ak0", "--rev=\(backupRevision - 1)"], endpoint: b.endpoint(1))
            #expect(old.err.contains("required revision has been compacted"), "\(old.out) \(old.err)")
        }

        @Test("5 nodes: a node without a system range replica backs up the whole cluster; restored on 5 nodes")
        func fiveNodes() async throws {
            let a = try ClusterHarness(nodes: 5, ranges: 4, extra: ["--tickIntervalMs", "50"])
            defer { a.shutdown() }
            try a.startAll()
            try await Self.waitServing(a)
            let lease = try await Self.grant(120, a.endpoint(4))
            for (n, k) in ["\u{01}a", "Ab", "bc", "~d", "Ae"].enumerated() {
                let args = n == 4 ? ["put", k, "v-\(k)", "--lease=\(lease)"] : ["put", k, "v-\(k)"]
                let r = try await Etcdctl.run(args, endpoint: a.endpoint(n + 1))
                #expect(r.lines == ["OK"], "put \(k): \(r.err)")
            }
            let before = try await Self.readAll(a.endpoint(1))
            #expect(before.kvs.count == 5)
            let file = a.root + "/five.db"
            // Node 5 holds no replica of the system range (range 1 lives on nodes 1-3).
            let e = try await Etcdctl.run(["snapshot", "save", file], endpoint: a.endpoint(5))
            #expect(e.status == 0, "\(e.out) \(e.err)")
            var r = try await Flotctl.run(["snapshot", "status", file, "-w", "json"])
            let j = Self.json(r.out)
            #expect(j["totalKey"] as? Int == 5 && j["ranges"] as? Int == 4 && j["leases"] as? Int == 1, "\(r.out) \(r.err)")
            for i in 1...5 { _ = a.terminate(i) }

            let b = try ClusterHarness(nodes: 5, ranges: 4, extra: ["--tickIntervalMs", "50"])
            defer { b.shutdown() }
            let cluster = (1...5).map { "node-\($0)=http://127.0.0.1:\(b.peerPorts[$0 - 1])" }.joined(separator: ",")
            for i in 1...5 {
                r = try await Flotctl.run(["snapshot", "restore", file, "--data-dir", "\(b.root)/node-\(i)", "--name", "node-\(i)",
                                           "--initial-cluster", cluster,
                                           "--initial-advertise-peer-urls", "http://127.0.0.1:\(b.peerPorts[i - 1])"])
                #expect(r.status == 0, "restore node \(i): \(r.out) \(r.err)")
            }
            try b.startAll()
            try await Self.waitServing(b)
            for node in [1, 5] {
                let after = try await Self.readAll(b.endpoint(node))
                #expect(after.kvs == before.kvs, "node \(node):\nbefore \(before.kvs)\nafter  \(after.kvs)")
            }
            let put = try await Etcdctl.run(["put", "new", "x", "-w", "json"], endpoint: b.endpoint(5))
            let rev = (Self.json(put.out)["header"] as? [String: Any])?["revision"] as? Int ?? 0
            #expect(rev > (j["revision"] as? Int ?? .max), "\(put.out) \(put.err)")
        }
    }
}
