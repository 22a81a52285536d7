import Base
import Foundation
import Testing

extension ClusterProcessSuites {
    /// A lease revoke whose router is killed in the middle (issue #5, session 8's residue):
    /// node 1 of a real 3-node cluster with 8 ranges runs with a crash point in the revoke
    /// path, armed by SIGUSR1, and dies there while revoking a lease whose keys lie in three
    /// ranges. The lease's TTL (600 s) is far beyond the test's wait, so only the system
    /// leader's expiry loop finishing revokes left "revoking" can remove the lease and its
    /// keys in time. Checked from the survivors (keys gone in every range, the lease ID free
    /// again) and, after a restart, from node 1 itself.
    @Suite("a lease revoke killed mid-way completes", .serialized,
           .enabled(if: ClusterHarness.binaryExists && Etcdctl.installed, "needs .build/debug/flotilla and etcdctl"))
    struct LeaseRevokeCrashProcessTests {
        static let keys = ["0lease", "Alease", "alease"]  // three of the eight ranges

        @Test("node 1 crashes inside the revoke; the cluster finishes it",
              arguments: [CrashPoint.leaseRevokeAfterMark, .leaseRevokeAfterSweep])
        func revokeCompletesAfterCrash(point: CrashPoint) async throws {
            let h = try ClusterHarness(nodes: 3, ranges: 8)
            defer { h.shutdown() }
            h.environment[1] = ["FLOTILLA_CRASHPOINT": point.rawValue]
            try h.startAll()
            let led = await h.waitAllLed()
            try #require(led, "not every range elected a leader; log of node 1:\n\(h.log(1).suffix(2000))")
            let ready = await eventually(.seconds(30)) {
                (try? await Etcdctl.run(["put", "ready", "1"], endpoint: h.endpoint(2)).status) == 0
            }
            try #require(ready, "the etcd API never answered; log of node 2:\n\(h.log(2).suffix(2000))")

            let id: Int64 = 0x7E57_0000 + Int64(point == .leaseRevokeAfterMark ? 1 : 2)
            let hex = String(id, radix: 16)
            let survivor = try EtcdTestEndpoint(port: Int(h.endpoint(2).split(separator: ":")[1])!)
            defer { survivor.close() }
            #expect(try await survivor.grantLease(id: id, ttl: 600) == id)
            for (i, k) in Self.keys.enumerated() {
                let r = try await Etcdctl.run(["put", "--lease=\(hex)", k, "v"], endpoint: h.endpoint(i % 2 + 2))
                try #require(r.status == 0, "put \(k): \(r.err)")
            }

            h.signal(1, SIGUSR1)
            try await Task.sleep(for: .milliseconds(300))
            let revoke = try await Etcdctl.run(["lease", "revoke", hex], endpoint: h.endpoint(1))
            let status = await h.waitExit(1, timeout: .seconds(15))
            #expect(status == 86, "node 1 did not crash at \(point.rawValue) (revoke: \(revoke.out) \(revoke.err)); log:\n\(h.log(1).suffix(2000))")
            #expect(h.log(1).contains("crash point \(point.rawValue) reached"))
            #expect(revoke.status != 0, "the revoke was acknowledged although node 1 crashed inside it: \(revoke.out)")

            // The survivors finish the revoke: every attached key deleted, the record removed
            // (a grant of the same ID succeeds only then: "lease already exists" before).
            let keysGone = await eventually(.seconds(30)) {
                let r = try? await Etcdctl.run(["get", "--prefix", "", "--keys-only"], endpoint: h.endpoint(3))
                guard let r, r.status == 0 else { return false }
                return Set(r.lines).isDisjoint(with: Self.keys)
            }
            #expect(keysGone, "leased keys still present; log of node 2:\n\(h.log(2).suffix(1500))")
            let removed = await eventually(.seconds(30)) {
                (try? await survivor.grantLease(id: id, ttl: 5)) == id
            }
            #expect(removed, "the lease record was never removed; log of node 3:\n\(h.log(3).suffix(1500))")

            // Node 1, restarted without the crash point, agrees.
            h.environment[1] = nil
            try h.start(1)
            let agrees = await eventually(.seconds(30)) {
                let r = try? await Etcdctl.run(["get", "--prefix", "", "--keys-only", "--consistency=s"], endpoint: h.endpoint(1))
                guard let r, r.status == 0 else { return false }
                return r.lines.contains("ready") && Set(r.lines).isDisjoint(with: Self.keys)
            }
            #expect(agrees, "restarted node 1 still serves leased keys; log:\n\(h.log(1).suffix(1500))")
        }
    }
}
