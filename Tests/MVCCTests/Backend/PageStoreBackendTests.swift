#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing
import TestThreads

@testable import MVCC

/// The MVCC store over a real PageStore file.
@Suite struct PageStoreBackendTests {
    func withFile(_ name: String, _ body: (String) throws -> Void) rethrows {
        let path = "/tmp/flotilla-mvcc-\(name)-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        try body(path)
    }

    func recordsBucket(_ backend: PageStoreBackend) throws -> [[UInt8]] {
        try backend.view { rtx in
            var all: [[UInt8]] = []
            try rtx.scan(.records, from: [], to: nil, reverse: false) { k, v in
                all.append(Array(k) + [0xEE] + Array(v))
                return true
            }
            return all
        }
    }

    @Test func committedStateSurvivesReopen() throws {
        try withFile("reopen") { path in
            do {
                let backend = try PageStoreBackend.open(path: path)
                let s = try freshStore(backend)
                for i in 0..<300 { try s.put("key\(i)", "value\(i)", at: Int64(2 + i), lease: Int64(i % 2)) }
                _ = try s.deleteRange(DeleteRangeRequest(key: b("key1"), rangeEnd: b("key2")), revision: 400)
                try s.commit(appliedIndex: 77)
                try s.put("lost", "x", at: 401)  // never committed
                backend.file.close()
            }
            let backend = try PageStoreBackend.open(path: path)
            defer { backend.file.close() }
            let s = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
            #expect(s.appliedIndex == 77 && s.currentRevision == 400)
            #expect(try s.get("lost") == nil)
            #expect(try s.get("key250")?.value == b("value250"))
            #expect(try s.range(RangeRequest(key: [0], rangeEnd: [0], countOnly: true)).count == 300 - 111)
            #expect(try s.get("key150", at: 399)?.value == b("value150"))
            #expect(try s.keys(attachedTo: 1).count == 150 - 56)
        }
    }

    @Test func splitAndMergeLeaveTheRecordsBucketByteIdentical() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try withFile("split") { path in
                let backend = try PageStoreBackend.open(path: path)
                defer { backend.file.close() }
                let s = try freshStore(backend)
                for i in 0..<2000 { try s.put("key\(i)", String(repeating: "v", count: 100), at: Int64(2 + i)) }
                try s.commit(appliedIndex: 1)
                let before = try recordsBucket(backend)
                let pagesBefore = backend.file.stats.pageCount
                let right = try s.split(
                    at: b("key5"), rightRangeID: RangeID(9), leftDescriptor: [], rightDescriptor: [], appliedIndex: 2,
                    rightAppliedIndex: 1)
                #expect(try recordsBucket(backend) == before)
                try s.merge(right, descriptor: [], appliedIndex: 3)
                #expect(try recordsBucket(backend) == before)
                // Two metadata-only commits touch a handful of pages, not the ~70 record pages.
                #expect(backend.file.stats.pageCount - pagesBefore < 16)
                #expect(try MVCCStore.open(backend: backend, rangeID: RangeID(2)).indexedKeyCount == 2000)
            }
        }
    }

    @Test func compactionKeepsTheFileBounded() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try withFile("compact") { path in
                let backend = try PageStoreBackend.open(path: path)
                defer { backend.file.close() }
                let s = try freshStore(backend)
                let keys = 3000
                var rev: Int64 = 1
                var index: UInt64 = 0
                // Batches of 500 puts per commit; from the second round on, each batch is followed by
                // a compaction at the current revision (as periodic auto-compaction would).
                func writeAll(compacting: Bool) throws {
                    for i in 0..<keys {
                        rev += 1
                        try s.put(PutRequest(key: b("key-\(i)"), value: [UInt8](repeating: UInt8(rev & 0x7F), count: 256)), revision: rev)
                        if i % 500 == 499 {
                            if compacting { try s.compact(rev) }
                            index += 1
                            try s.commit(appliedIndex: index)
                        }
                    }
                }
                try writeAll(compacting: false)
                let once = backend.file.stats.fileBytes
                for _ in 0..<9 { try writeAll(compacting: true) }
                // A few more commits let the freelist hand back the pages freed above.
                for _ in 0..<3 {
                    index += 1
                    try s.commit(appliedIndex: index)
                }
                let after = backend.file.stats.fileBytes
                #expect(Double(after) <= 1.5 * Double(once), "file \(after) bytes after 10 writes + compaction vs \(once) once")
                #expect(try recordsBucket(backend).count == keys)
            }
        }
    }

    /// Two backends over one file, the standard names and a `system.` mapping (the system
    /// range's): each sees only its own buckets, and the file holds them under the on-disk
    /// names existing data directories use.
    @Test func bucketNamesSeparateBackendsOverOneFile() throws {
        #expect(MVCCBucket.allCases.map { MVCCBucketNames.standard[$0] } == MVCCBucket.allCases.map(\.name))
        #expect(MVCCBucketNames.prefixed("system.")[.records] == b("system.mvcc.records"))
        #expect(MVCCBucketNames.prefixed("system.")[.leases] == b("system.mvcc.leases"))
        try withFile("names") { path in
            do {
                let user = try PageStoreBackend.open(path: path)
                let system = PageStoreBackend(file: user.file, bucketNames: .prefixed("system."))
                try system.update { try $0.put(.meta, b("m"), b("system")) }
                try user.update { try $0.put(.meta, b("m"), b("user")) }
                try system.update { try $0.put(.records, b("only-system"), b("1")) }
                #expect(try system.view { try $0.get(.meta, b("m")) } == b("system"))
                #expect(try user.view { try $0.get(.meta, b("m")) } == b("user"))
                #expect(try recordsBucket(user).isEmpty)
                #expect(try recordsBucket(system).count == 1)
                user.file.close()
            }
            let file = try PageFile.open(path: path)
            defer { file.close() }
            #expect(try file.view { try $0.bucket(named: b("system.mvcc.meta"))?.get(b("m")) } == b("system"))
            #expect(try file.view { try $0.bucket(named: b("mvcc.meta"))?.get(b("m")) } == b("user"))
            #expect(try file.view { try $0.bucket(named: b("system.mvcc.records"))?.get(b("only-system")) } == b("1"))
            let reopened = PageStoreBackend(file: file, bucketNames: .prefixed("system."))
            #expect(try reopened.view { try $0.get(.meta, b("m")) } == b("system"))
        }
    }
}
