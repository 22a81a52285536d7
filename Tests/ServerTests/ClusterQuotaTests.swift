import Foundation
import Testing

extension ClusterProcessSuites {
    /// etcd's space quota on real `flotilla serve` processes: with `--quotaBackendBytes 1` every
    /// node's `NodeEtcdBackend` raises NOSPACE on its first refresh, and `QuotaKVBackend` in front
    /// of the router then refuses puts, txns with puts and LeaseGrant while reads, deletes and lease listing still work —
    /// the one alarm mechanism the server runs, seen through the real etcdctl.
    @Suite("NOSPACE quota on a 3-node cluster", .serialized,
           .enabled(if: ClusterHarness.binaryExists && Etcdctl.installed, "needs .build/debug/flotilla and etcdctl"))
    struct ClusterQuotaTests {
        @Test("a data file above the quota raises NOSPACE on every node; writes refused, reads and deletes served")
        func quotaRaisesNoSpace() async throws {
            let h = try ClusterHarness(ranges: 2, extra: ["--tickIntervalMs", "50", "--quotaBackendBytes", "1"])
            defer { h.shutdown() }
            try h.startAll()
            let led = await h.waitAllLed()
            try #require(led, "not every range elected a leader; log of node 1:\n\(h.log(1).suffix(2000))")
            for node in 1...3 {
                let raised = await eventually(.seconds(30)) {
                    let r = try? await Etcdctl.run(["alarm", "list"], endpoint: h.endpoint(node))
                    return r?.lines == ["memberID:\(node) alarm:NOSPACE "]
                }
                #expect(raised, "node \(node) never listed its NOSPACE alarm; log:\n\(h.log(node).suffix(2000))")
            }
            var r = try await Etcdctl.run(["put", "k", "v"], endpoint: h.endpoint(1))
            #expect(r.status != 0 && r.err.contains("etcdserver: mvcc: database space exceeded"), "\(r.out) \(r.err)")
            r = try await Etcdctl.run(["txn"], endpoint: h.endpoint(2), stdin: "\n\nput k v\n\n\n")
            #expect(r.err.contains("etcdserver: mvcc: database space exceeded"), "\(r.out) \(r.err)")
            // etcd's quota covers LeaseGrant too; listing leases still works.
            r = try await Etcdctl.run(["lease", "grant", "60"], endpoint: h.endpoint(3))
            #expect(r.status != 0 && r.err.contains("etcdserver: mvcc: database space exceeded"), "\(r.out) \(r.err)")
            r = try await Etcdctl.run(["lease", "list"], endpoint: h.endpoint(1))
            #expect(r.status == 0 && r.lines == ["found 0 leases"], "\(r.out) \(r.err)")
            r = try await Etcdctl.run(["get", "k"], endpoint: h.endpoint(3))
            #expect(r.status == 0 && r.lines.isEmpty, "\(r.out) \(r.err)")
            r = try await Etcdctl.run(["del", "k"], endpoint: h.endpoint(1))
            #expect(r.status == 0 && r.lines == ["0"], "\(r.out) \(r.err)")
            r = try await Etcdctl.run(["endpoint", "status", "-w", "json"], endpoint: h.endpoint(2))
            #expect(r.out.contains("NOSPACE"), "\(r.out) \(r.err)")
        }
    }
}
