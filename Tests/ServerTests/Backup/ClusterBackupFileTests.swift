import API
import Base
import Foundation
import MVCC
import Node
import Server
import Testing

/// The cluster backup file: frames round-trip, the digest and size checks refuse damaged
/// files, and `ClusterRestore` refuses inconsistent inputs before writing anything.
@Suite struct ClusterBackupFileTests {
    static func temp(_ name: String) -> String {
        NSTemporaryDirectory() + "flotilla-backup-\(getpid())-\(UUID().uuidString)-\(name)"
    }

    /// Two ranges tiling the keyspace at "m", three keys, one lease.
    static func frames(split: [UInt8] = Array("m".utf8)) -> [ClusterBackup.Frame] {
        let r1 = RangeDescriptor(rangeID: RangeID(2), startKey: [], endKey: split, epoch: .init(confVersion: 1, version: 3),
                                 replicas: [.init(nodeID: NodeID(1), replicaID: 1)])
        let r2 = RangeDescriptor(rangeID: RangeID(3), startKey: split, endKey: nil,
                                 replicas: [.init(nodeID: NodeID(1), replicaID: 1), .init(nodeID: NodeID(2), replicaID: 2, role: .learner)])
        return [
            .range(r1), .range(r2),
            .kvs(RangeID(2), [KeyValue(key: Array("a".utf8), createRevision: 5, modRevision: 9, version: 3, value: Array("x".utf8), lease: 77),
                              KeyValue(key: Array("b".utf8), createRevision: 6, modRevision: 6, version: 1, value: [])]),
            .kvs(RangeID(3), [KeyValue(key: Array("z".utf8), createRevision: 7, modRevision: 8, version: 2, value: [0, 1, 2])]),
            .leases([ClusterBackup.Lease(id: 77, ttl: 600)]),
        ]
    }

    /// A complete file: header, frames, end frame with the totals, zero padding, SHA-256.
    static func write(_ frames: [ClusterBackup.Frame], revision: Int64 = 10, to path: String) throws {
        var content = ClusterBackup.encode(ClusterBackup.Header(revision: revision, clusterID: 42, createdUnixMs: 1))
        var s = ClusterBackup.Summary()
        for f in frames {
            switch f {
            case .range: s.ranges += 1
            case .kvs(_, let kvs): s.keys += UInt64(kvs.count)
            case .leases(let l): s.leases += UInt32(l.count)
            case .end: break
            }
            content += ClusterBackup.encode(f)
        }
        s.contentBytes = UInt64(content.count)
        content += ClusterBackup.encode(.end(s))
        content += [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
        content += SHA256.hash(content)
        try Data(content).write(to: URL(fileURLWithPath: path))
    }

    @Test func framesRoundTripThroughAFile() throws {
        let path = Self.temp("ok.db")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.write(Self.frames(), to: path)
        let (size, _) = try ClusterBackupFile.verify(path)
        let reader = try ClusterBackupFile.Reader(path: path, size: size)
        #expect(reader.header == ClusterBackup.Header(revision: 10, clusterID: 42, createdUnixMs: 1))
        var read: [ClusterBackup.Frame] = []
        while let f = try reader.next() { read.append(f) }
        #expect(Array(read.dropLast()) == Self.frames())
        guard case .end(let s) = read.last else {
            Issue.record("no end frame: \(read)")
            return
        }
        #expect(s.ranges == 2 && s.keys == 3 && s.leases == 1)
        #expect(try reader.next() == nil)
    }

    @Test func damagedFilesAreRefused() throws {
        let path = Self.temp("ok.db")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.write(Self.frames(), to: path)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for i in stride(from: 0, to: good.count, by: 97) {
            var bad = good
            bad[i] ^= 0x01
            try Data(bad).write(to: URL(fileURLWithPath: path))
            #expect(throws: ClusterBackupFile.Failure.self, "byte \(i) flipped") { try ClusterBackupFile.verify(path) }
        }
        for cut in [1, 32, 512, good.count - 1] {
            try Data(good.prefix(good.count - cut)).write(to: URL(fileURLWithPath: path))
            do {
                try ClusterBackupFile.verify(path)
                Issue.record("a file cut by \(cut) bytes was accepted")
            } catch {
                #expect("\(error)".contains("truncated") || "\(error)".contains("corrupted"), "\(error)")
            }
        }
    }

    @Test func restoreRefusesBadInputsAndWritesNothing() throws {
        let file = Self.temp("r.db")
        let dir = Self.temp("dir")
        defer {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let cluster = "node-1=http://h:1,node-2=http://h:2,3=http://h:3"
        func restore(name: String = "node-1", cluster: String = cluster, urls: [String] = []) throws -> ClusterRestore.Summary {
            try ClusterRestore.restore(file: file, dataDir: dir, name: name, initialCluster: cluster, advertisePeerURLs: urls)
        }
        // Ranges that leave a gap in the keyspace.
        var gap = Self.frames()
        gap.remove(at: 1)
        gap.remove(at: 2)
        try Self.write(gap, to: file)
        #expect(throws: ClusterRestore.Failure.self) { try restore() }
        #expect(!FileManager.default.fileExists(atPath: dir))

        try Self.write(Self.frames(), to: file)
        #expect(throws: ClusterRestore.Failure.self) { try restore(name: "node-4") }
        #expect(throws: ClusterRestore.Failure.self) { try restore(urls: ["http://h:2"]) }
        #expect(throws: ClusterRestore.Failure.self) { try restore(cluster: "bob=http://h:1") }
        #expect(!FileManager.default.fileExists(atPath: dir))

        let s = try restore(name: "3", urls: ["http://h:3"])
        #expect(s.revision == 10 && s.ranges == 2 && s.keys == 3 && s.leases == 1 && s.oracleMark == 10, "\(s)")
        #expect(FileManager.default.fileExists(atPath: dir + "/data.db"))
        #expect((try? String(contentsOfFile: dir + "/IDENTITY", encoding: .utf8)) == "flotilla-node 3\n")
        // Never over an existing directory.
        #expect(throws: RestoredDataDirectory.Failure.self) { try restore() }
    }

    @Test func memberNames() throws {
        #expect(ClusterRestore.nodeID(fromName: "node-12") == NodeID(12))
        #expect(ClusterRestore.nodeID(fromName: "7") == NodeID(7))
        #expect(ClusterRestore.nodeID(fromName: "node-0") == nil)
        #expect(ClusterRestore.nodeID(fromName: "infra1") == nil)
        let m = try ClusterRestore.members(initialCluster: "node-2=http://a:2,node-1=http://a:1,node-1=http://b:1")
        #expect(m.map(\.nodeID) == [NodeID(1), NodeID(2)])
        #expect(throws: ClusterRestore.Failure.self) { try ClusterRestore.members(initialCluster: "node-1=http://a,1=http://b") }
    }
}
