@testable import PageStore
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Bit flips and truncations are reported as errors, never served as data.
@Suite struct CorruptionTests {
    /// Builds a file with two commits: the first puts `a`-keys, the second `b`-keys and a
    /// few big values. Returns the page marks of the final state (1 = in use).
    static func build(_ path: String) throws -> [UInt8] {
        let file = try PageFile.open(path: path)
        defer { file.close() }
        try file.update { txn in
            let b = try txn.createBucketIfNeeded(named: bytes("first"))
            for i in 0..<300 { try b.put(bytes("a\(format(i))"), [UInt8](repeating: UInt8(i & 0xFF), count: 40)) }
        }
        try file.update { txn in
            let b = try txn.createBucketIfNeeded(named: bytes("second"))
            for i in 0..<300 { try b.put(bytes("b\(format(i))"), [UInt8](repeating: UInt8(i & 0xFF), count: 60)) }
            for i in 0..<3 { try b.put(bytes("big\(i)"), [UInt8](repeating: UInt8(i), count: 20_000)) }
        }
        return try file.runChecker().marks
    }

    /// Reads every key and value of every bucket.
    static func readAll(_ file: PageFile) throws -> Int {
        try file.view { txn throws -> Int in
            var n = 0
            for name in try txn.bucketNames() {
                try txn.bucket(named: name)!.scan(from: nil, to: nil) { _, v in n += v.count; return true }
            }
            return n
        }
    }

    @Test func everyFlippedPageIsDetected() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let marks = try Self.build(dir.file())
        let pageSize = 4096
        var checked = 0
        for id in 2..<marks.count where marks[id] == 1 {
            let header = readFile(dir.file(), at: id * pageSize, count: 24)
            let type = UInt16(header[4]) | UInt16(header[5]) << 8
            let overflow = Int(header[8]) | Int(header[9]) << 8 | Int(header[10]) << 16
            let length = Int(header[12]) | Int(header[13]) << 8 | Int(header[14]) << 16
            let headerID = header[16..<24].reversed().reduce(0) { $0 << 8 | Int($1) }
            // Continuation pages of a run are covered by the run's checksum (flipped via the run start).
            if headerID != id { continue }
            // Flip inside the checksummed bytes (bytes past them are never read).
            let span = type == PageType.blob.rawValue ? 24 + length : length
            #expect(span <= (overflow + 1) * pageSize)
            let offset = id * pageSize + 4 + (id * 7919) % (span - 4)
            let copy = dir.file("copy-\(id).db")
            copyFile(dir.file(), copy)
            defer { unlink(copy) }
            var byte = readFile(copy, at: offset, count: 1)
            byte[0] ^= UInt8(1 << (id % 8))
            patchFile(copy, at: offset, byte)
            var detected = false
            do {
                let file = try PageFile.open(path: copy)
                defer { file.close() }
                do { _ = try Self.readAll(file) } catch let e as PageStoreError {
                    if case .corruptPage = e { detected = true }
                }
                let report = try file.check()
                #expect(!report.problems.isEmpty, "page \(id) type \(type): checker missed the flip")
            } catch let e as PageStoreError {
                if case .corruptPage = e { detected = true }  // the freelist is read at open
            }
            #expect(detected, "page \(id) type \(type) offset \(offset): flipped bit not detected")
            checked += 1
        }
        #expect(checked > 10)
    }

    @Test func damagedNewestMetaFallsBackToPreviousCommit() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        _ = try Self.build(dir.file())
        // Two commits after init (txids 2 and 3): the newest meta is in slot 1.
        var byte = readFile(dir.file(), at: 4096 + 30, count: 1)
        byte[0] ^= 0x10
        patchFile(dir.file(), at: 4096 + 30, byte)
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        #expect(file.stats.txid == 2)
        try file.view { txn throws in
            #expect(try txn.bucketNames() == [bytes("first")])
            #expect(try txn.bucket(named: bytes("first"))?.count == 300)
        }
        #expect(try file.check().problems.isEmpty)
    }

    @Test func bothMetasDamagedIsAClearError() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        _ = try Self.build(dir.file())
        patchFile(dir.file(), at: 40, [0xFF])
        patchFile(dir.file(), at: 4096 + 40, [0xFF])
        #expect {
            _ = try PageFile.open(path: dir.file())
        } throws: { error in
            guard case .noValidMeta(_, let m0, let m1) = error as? PageStoreError else { return false }
            return m0.contains("checksum") && m1.contains("checksum")
        }
        patchFile(dir.file(), at: 0, Array("not a pagestore file".utf8))
        patchFile(dir.file(), at: 4096, Array("not a pagestore file".utf8))
        #expect { _ = try PageFile.open(path: dir.file()) } throws: { error in
            if case .noValidMeta = error as? PageStoreError { return true }
            return false
        }
    }

    @Test func truncatedFileIsAClearError() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let marks = try Self.build(dir.file())
        truncateFile(dir.file(), to: (marks.count / 2) * 4096)
        #expect {
            _ = try PageFile.open(path: dir.file())
        } throws: { error in
            guard case .fileTruncated(_, let want, let have) = error as? PageStoreError else { return false }
            return want == marks.count * 4096 && have == (marks.count / 2) * 4096
        }
    }

    @Test func alwaysVerifyCatchesDamageAfterFirstRead() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let marks = try Self.build(dir.file())
        var options = PageFileOptions()
        options.verification = .always
        let file = try PageFile.open(path: dir.file(), options: options)
        defer { file.close() }
        _ = try Self.readAll(file)
        // Damage a leaf underneath the open file (the mapping shares the page cache).
        let leaf = (2..<marks.count).first { id in
            marks[id] == 1 && readFile(dir.file(), at: id * 4096 + 4, count: 1) == [UInt8(PageType.leaf.rawValue)]
        }!
        var byte = readFile(dir.file(), at: leaf * 4096 + 100, count: 1)
        byte[0] ^= 1
        patchFile(dir.file(), at: leaf * 4096 + 100, byte)
        #expect { _ = try Self.readAll(file) } throws: { error in
            if case .corruptPage(let id, _) = error as? PageStoreError { return id == UInt64(leaf) }
            return false
        }
    }
}
