@testable import PageStore
import Testing
import TestThreads

@Suite struct PageFileBasicTests {
    @Test func putGetDeleteAcrossReopen() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        do {
            let file = try PageFile.open(path: dir.file())
            try file.update { txn throws in
                let b = try txn.createBucketIfNeeded(named: bytes("kv"))
                try b.put(bytes("a"), bytes("1"))
                try b.put(bytes("b"), bytes("2"))
                try b.put(bytes("c"), bytes("3"))
                #expect(try b.get(bytes("b")) == bytes("2"))
                #expect(b.count == 3)
            }
            try file.update { txn throws in
                let b = try #require(try txn.bucket(named: bytes("kv")))
                #expect(try b.delete(bytes("b")))
                #expect(try !b.delete(bytes("zz")))
                try b.put(bytes("a"), bytes("one"))
            }
            try file.view { txn throws in
                let b = try #require(try txn.bucket(named: bytes("kv")))
                #expect(try b.get(bytes("a")) == bytes("one"))
                #expect(try b.get(bytes("b")) == nil)
                #expect(b.count == 2)
            }
            file.close()
        }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        try file.view { txn throws in
            let b = try #require(try txn.bucket(named: bytes("kv")))
            #expect(try dump(b).map { $0.0 } == [bytes("a"), bytes("c")])
            #expect(try b.get(bytes("c")) == bytes("3"))
        }
        #expect(try file.check().problems.isEmpty)
    }

    @Test func manyKeysSplitAndScanBothWays() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            let file = try PageFile.open(path: dir.file())
            defer { file.close() }
            let n = 5000
            func key(_ i: Int) -> [UInt8] { bytes(String(format(i))) }
            try file.update { txn throws in
                let b = try txn.createBucketIfNeeded(named: bytes("kv"))
                for i in stride(from: 0, to: n, by: 2) { try b.put(key(i), [UInt8](repeating: UInt8(i & 0xFF), count: 100)) }
            }
            try file.update { txn throws in
                let b = try #require(try txn.bucket(named: bytes("kv")))
                for i in stride(from: 1, to: n, by: 2) { try b.put(key(i), [UInt8](repeating: UInt8(i & 0xFF), count: 100)) }
            }
            try file.view { txn throws in
                let b = try #require(try txn.bucket(named: bytes("kv")))
                #expect(b.count == n)
                var i = 0
                try b.scan(from: nil, to: nil) { k, v in
                    #expect([UInt8](k) == key(i))
                    #expect(v.count == 100 && v.first == UInt8(i & 0xFF))
                    i += 1
                    return true
                }
                #expect(i == n)
                var j = 1999
                try b.scan(from: key(1000), to: key(2000), reverse: true) { k, _ in
                    #expect([UInt8](k) == key(j)); j -= 1; return true
                }
                #expect(j == 999)
                var c = b.makeCursor()
                #expect(try c.seek(key(4998)))
                #expect(try c.next())
                #expect(try c.entry()?.key == key(4999))
                #expect(try !c.next())
                #expect(try c.last())
                #expect(try c.prev())
                #expect(try c.entry()?.key == key(4998))
            }
            #expect(try file.check().problems.isEmpty)
        }
    }

    @Test func bigValuesUpTo2MiB() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            let file = try PageFile.open(path: dir.file())
            defer { file.close() }
            let sizes = [0, 1, 1023, 1024, 1025, 4000, 4096, 100_000, 2 << 20, (2 << 20) + 12345]
            try file.update { txn throws in
                let b = try txn.createBucketIfNeeded(named: bytes("big"))
                for (i, s) in sizes.enumerated() { try b.put([UInt8(i + 1)], (0..<s).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }) }
            }
            try file.view { txn throws in
                let b = try #require(try txn.bucket(named: bytes("big")))
                for (i, s) in sizes.enumerated() {
                    #expect(try b.get([UInt8(i + 1)]) == (0..<s).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }, "size \(s)")
                }
            }
            try file.update { txn throws in
                let b = try #require(try txn.bucket(named: bytes("big")))
                for i in sizes.indices { try b.delete([UInt8(i + 1)]) }
            }
            #expect(try file.check().problems.isEmpty)
        }
    }

    @Test func rejectsOversizedKeysAndValues() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.maxValueBytes = 1000
        let file = try PageFile.open(path: dir.file(), options: options)
        defer { file.close() }
        #expect(throws: PageStoreError.keyTooLarge(size: 5000, max: file.maxKeySize)) {
            try file.update { txn throws in try txn.createBucketIfNeeded(named: bytes("b")).put([UInt8](repeating: 1, count: 5000), []) }
        }
        #expect(throws: PageStoreError.valueTooLarge(size: 1001, max: 1000)) {
            try file.update { txn throws in try txn.createBucketIfNeeded(named: bytes("b")).put([1], [UInt8](repeating: 1, count: 1001)) }
        }
        #expect(throws: PageStoreError.emptyKey) {
            try file.update { txn throws in try txn.createBucketIfNeeded(named: bytes("b")).put([], [1]) }
        }
    }

    @Test func rollbackOnThrowAndBuckets() throws {
        struct Abort: Error {}
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        try file.update { txn throws in
            try txn.createBucketIfNeeded(named: bytes("a")).put(bytes("k"), bytes("v"))
            try txn.createBucketIfNeeded(named: bytes("b")).put(bytes("k"), bytes("w"))
        }
        #expect(throws: Abort.self) {
            try file.update { txn throws in
                try txn.bucket(named: bytes("a"))!.put(bytes("k"), bytes("changed"))
                try txn.deleteBucket(named: bytes("b"))
                throw Abort()
            }
        }
        try file.view { txn throws in
            #expect(try txn.bucketNames() == [bytes("a"), bytes("b")])
            #expect(try txn.bucket(named: bytes("a"))?.get(bytes("k")) == bytes("v"))
        }
        try file.update { txn throws in
            let stale = try #require(try txn.bucket(named: bytes("b")))
            #expect(try txn.deleteBucket(named: bytes("b")))
            #expect(throws: PageStoreError.bucketNotFound(name: bytes("b"))) { try stale.put(bytes("x"), bytes("y")) }
        }
        try file.view { txn throws in
            #expect(try txn.bucketNames() == [bytes("a")])
            #expect(try txn.bucket(named: bytes("b")) == nil)
        }
        #expect(try file.check().problems.isEmpty)
    }

    @Test func deleteRangeOverManyLeaves() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            let file = try PageFile.open(path: dir.file())
            defer { file.close() }
            let n = 20_000
            try file.update { txn in
                let b = try txn.createBucketIfNeeded(named: bytes("kv"))
                for i in 0..<n { try b.put(bytes(format(i)), [UInt8](repeating: 7, count: i % 500 == 0 ? 5000 : 50)) }
            }
            try file.update { txn in
                let b = try #require(try txn.bucket(named: bytes("kv")))
                #expect(try b.deleteRange(from: bytes(format(1000)), to: bytes(format(15000))) == 14000)
                #expect(b.count == n - 14000)
                #expect(try b.get(bytes(format(999))) != nil)
                #expect(try b.get(bytes(format(1000))) == nil)
                #expect(try b.get(bytes(format(15000))) != nil)
            }
            #expect(try file.check().problems.isEmpty)
            try file.update { txn in
                let b = try #require(try txn.bucket(named: bytes("kv")))
                #expect(try b.deleteRange(from: nil, to: nil) == n - 14000)
                #expect(b.count == 0)
            }
            let report = try file.check()
            #expect(report.problems.isEmpty)
            #expect(report.keys == 0)
            #expect(report.usedPages <= 4, "an empty bucket keeps only metas, directory and freelist: \(report.usedPages)")
        }
    }

    @Test func writeCursorSeesOwnWritesAndDetectsModification() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        try file.update { txn in
            let b = try txn.createBucketIfNeeded(named: bytes("kv"))
            for i in 0..<1000 { try b.put(bytes(format(i)), bytes("v\(i)")) }
        }
        try file.update { txn in
            let b = try #require(try txn.bucket(named: bytes("kv")))
            try b.put(bytes(format(500) + "a"), bytes("new"))
            var c = b.makeCursor()
            #expect(try c.seek(bytes(format(500))))
            #expect(try c.next())
            #expect(try c.entry()?.value == bytes("new"))
            try b.delete(bytes(format(501)))
            #expect(throws: PageStoreError.self) { try c.next() }
            #expect(try c.seek(bytes(format(500) + "a")))
            #expect(try c.next())
            #expect(try c.entry()?.key == bytes(format(502)))
            #expect(try c.last())
            #expect(try c.entry()?.key == bytes(format(999)))
        }
    }

    @Test func secondOpenIsRefusedWhileLocked() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        #expect(throws: PageStoreError.locked(path: dir.file())) { _ = try PageFile.open(path: dir.file()) }
        file.close()
        let again = try PageFile.open(path: dir.file())
        again.close()
    }
}

func format(_ i: Int) -> String {
    let s = String(i)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}
