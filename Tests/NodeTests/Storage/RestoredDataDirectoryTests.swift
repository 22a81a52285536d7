import Base
import Foundation
import MVCC
import Node
import Testing

/// A data directory written by `RestoredDataDirectory` (what `flotctl snapshot restore`
/// produces) opens as a node whose ranges hold the restored key-values with their revisions,
/// versions and leases, whose oracle hands out revisions above the backup's, and whose new
/// writes land above it.
@Suite struct RestoredDataDirectoryTests {
    static let backupRevision: Int64 = 1_000

    static let kvs: [KeyValue] = [
        KeyValue(key: Array("a".utf8), createRevision: 10, modRevision: 900, version: 4, value: Array("va".utf8), lease: 0x51),
        KeyValue(key: Array("b".utf8), createRevision: 20, modRevision: 20, version: 1, value: []),
        KeyValue(key: [0x00, 0x01], createRevision: 30, modRevision: 999, version: 2, value: [0xFF]),
        KeyValue(key: Array("z".utf8), createRevision: 1_000, modRevision: 1_000, version: 1, value: Array("last".utf8), lease: 0x52),
    ].sorted { $0.key.lexicographicallyPrecedes($1.key) }

    @Test func restoredDirectoryServesTheBackup() async throws {
        let (backupRevision, kvs) = (Self.backupRevision, Self.kvs)
        let root = NSTemporaryDirectory() + "flotilla-restored-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let node = NodeID(1)
        let user = RangeDescriptor(rangeID: RangeID(2), startKey: [], endKey: nil, replicas: [.init(nodeID: node, replicaID: 1)])
        let path = root + "/n1"
        let dir = try RestoredDataDirectory(path: path, node: node)
        try dir.createRange(user, revision: backupRevision)
        let last = try dir.append(Array(kvs.prefix(2)), to: user, revision: backupRevision, after: nil)
        try dir.append(Array(kvs.dropFirst(2)), to: user, revision: backupRevision, after: last)
        // Out of order or above the backup revision: refused.
        #expect(throws: MVCCStore.RestoreError.self) {
            try dir.append([kvs[0]], to: user, revision: backupRevision, after: kvs.last!.key)
        }
        var future = kvs[0]
        future.key = Array("zz".utf8)
        future.modRevision = backupRevision + 1
        #expect(throws: MVCCStore.RestoreError.self) {
            try dir.append([future], to: user, revision: backupRevision, after: nil)
        }
        try dir.writeSystemRange(BootstrapConfig(nodes: [node], rangeCount: 1).systemDescriptor,
                                 oracleMark: backupRevision, leases: [(id: 0x51, ttl: 600), (id: 0x52, ttl: 30)])
        #expect(!FileManager.default.fileExists(atPath: path))
        try dir.finish()
        #expect(FileManager.default.fileExists(atPath: path + "/IDENTITY"))

        var config = NodeConfig(nodeID: node, dataDirectory: path)
        config.tickIntervalMs = 50
        config.electionTicks = 10
        let network = LocalNetwork(seed: 1)
        let host = try NodeHost(config: config, transport: network.transport(for: node), bootstrap: nil)
        network.register(node, host)
        host.start()
        let outcome: Result<Void, any Error>
        do {
            try await Self.check(host)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // NodeHost.stop blocks until the loop ends: on a thread of its own, not the pool's.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                host.stop()
                c.resume()
            }
        }
        try outcome.get()
    }

    static func check(_ host: NodeHost) async throws {
        let store = try #require(host.store(for: RangeID(2)))
        let all = try store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs == kvs)
        #expect(store.currentRevision == backupRevision)
        #expect(throws: MVCCError.self) { try store.range(RangeRequest(key: [0], rangeEnd: [0], revision: backupRevision - 1)) }
        #expect(try store.keys(attachedTo: 0x51) == [Array("a".utf8)])

        let deadline = ContinuousClock.now + .seconds(30)
        while !(host.isLeader(of: RangeID(2)) && host.isLeader(of: .system)), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let fresh = try await host.freshRevision()
        #expect(fresh > backupRevision)
        let lease = try await host.leaseLookup(id: 0x52)
        #expect(lease?.grantedTTL == 30)
        let result = try await host.propose(.put(PutRequest(key: Array("new".utf8), value: [1])), to: RangeID(2))
        guard case .put(let put) = result else {
            Issue.record("unexpected result \(result)")
            return
        }
        #expect(put.revision > backupRevision)
    }
}
