@testable import PageStore
import Base
import Testing
import TestThreads

/// Compact branch pages (type 6, session 10): 6-byte elements (child u32, key position u16)
/// when every child id fits 32 bits, the 16-byte form otherwise. Every failure message
/// carries the seed.
@Suite struct CompactBranchTests {
    /// A branch node of random separators and children encodes as a compact page exactly when
    /// every child id is below 2^32, passes the bounds check, and decodes (page accessors and
    /// a re-materialised node) to the same separators and children.
    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func encodeDecodeRoundTrip(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let pageSize = 4096
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 4096)
        defer { buffer.deallocate() }
        for round in 0..<200 {
            let context = "seed \(seed) round \(round)"
            let wide = Int.random(in: 0..<4, using: &rng) == 0
            // Strictly increasing separators of 1...12 bytes.
            var keys = Set<[UInt8]>()
            let target = Int.random(in: 1...300, using: &rng)
            while keys.count < target {
                keys.insert((0..<Int.random(in: 1...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            let sorted = keys.sorted { $0.lexicographicallyPrecedes($1) }
            let node = Node(isLeaf: false, page: 0, parent: nil)
            var children: [PageID] = []
            for k in sorted {
                let child = PageID.random(in: 2...PageLayout.compactChildMax, using: &rng)
                children.append(child)
                k.withUnsafeBytes { node.appendChild(key: $0, child: child) }
            }
            if wide {
                let i = Int.random(in: 0..<children.count, using: &rng)
                children[i] = PageLayout.compactChildMax + PageID.random(in: 1...(1 << 40), using: &rng)
                node.entries[i].child = children[i]
            }
            let size = node.size(inlineMax: (pageSize - PageLayout.headerSize) / 2)
            let expectedElement = wide ? PageLayout.branchElementSize : PageLayout.compactBranchElementSize
            #expect(node.branchElementSize() == expectedElement, "\(context)")
            #expect(size == PageLayout.headerSize + sorted.reduce(0) { $0 + expectedElement + $1.count }, "\(context)")
            guard size <= pageSize else { continue }
            _ = node.encode(0..<node.count, into: buffer.baseAddress!, id: 7, pageSize: pageSize)
            let p = PageRef(base: UnsafeRawPointer(buffer.baseAddress!))
            #expect(p.isCompactBranch == !wide, "\(context)")
            #expect(p.rawType == (wide ? PageType.branch : PageType.compactBranch).rawValue, "\(context)")
            #expect(p.length == size, "\(context): encoded length")
            #expect(p.elementsInBounds(limit: p.length), "\(context)")
            #expect(p.count == sorted.count, "\(context)")
            for i in 0..<p.count {
                #expect([UInt8](p.branchKey(i)) == sorted[i], "\(context): key \(i)")
                #expect(p.branchChild(i) == children[i], "\(context): child \(i)")
            }
            let decoded = Node(page: p, id: 7, parent: nil)
            #expect(decoded.count == sorted.count, "\(context)")
            for i in 0..<decoded.count {
                #expect([UInt8](decoded.key(i)) == sorted[i], "\(context): decoded key \(i)")
                #expect(decoded.child(i) == children[i], "\(context): decoded child \(i)")
            }
        }
    }

    /// A compact branch whose key positions go backwards or past `length` is refused.
    @Test func malformedCompactBranchIsOutOfBounds() {
        let pageSize = 4096
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 4096)
        defer { buffer.deallocate() }
        let node = Node(isLeaf: false, page: 0, parent: nil)
        for (i, k) in ["a", "b", "c"].enumerated() { Array(k.utf8).withUnsafeBytes { node.appendChild(key: $0, child: PageID(10 + i)) } }
        _ = node.encode(0..<3, into: buffer.baseAddress!, id: 7, pageSize: pageSize)
        let p = PageRef(base: UnsafeRawPointer(buffer.baseAddress!))
        #expect(p.isCompactBranch && p.elementsInBounds(limit: p.length))
        let w = PageWriter(base: buffer.baseAddress!)
        let second = PageLayout.headerSize + PageLayout.compactBranchElementSize + 4
        let good = p.u16(second)
        w.set16(second, good - 2)  // before the first key
        #expect(!p.elementsInBounds(limit: p.length))
        w.set16(second, UInt16(p.length + 1))  // past the end
        #expect(!p.elementsInBounds(limit: p.length))
        w.set16(second, good)
        #expect(p.elementsInBounds(limit: p.length))
    }

    /// Random puts, overwrites and deletes of 30k 16-byte keys: every branch page in use is
    /// compact, some hold more children than a page of 16-byte elements can (239 with 1-byte
    /// keys), the checker passes, and the file read back after a reopen equals the model.
    @Test(arguments: [11, 12] as [UInt64])
    func randomWritesUseCompactBranches(seed: UInt64) async throws {
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.durable = false
            var rng = SeededGenerator(seed: seed)
            var model: [[UInt8]: [UInt8]] = [:]
            let name = bytes("records")
            let hex = Array("0123456789abcdef".utf8)
            func key(_ i: UInt64) -> [UInt8] {
                var z = i &* 0x9E37_79B9_7F4A_7C15
                z ^= z >> 29
                return (0..<16).map { hex[Int((z >> (60 - 4 * UInt64($0))) & 0xF)] }
            }
            var file = try PageFile.open(path: dir.file(), options: options)
            for _ in 0..<40 {
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for _ in 0..<1000 {
                        let k = key(UInt64.random(in: 0..<32_000, using: &rng))
                        if Int.random(in: 0..<10, using: &rng) == 0 {
                            _ = try b.delete(k)
                            model[k] = nil
                        } else {
                            let v = (0..<Int.random(in: 60...140, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                            try b.put(k, v)
                            model[k] = v
                        }
                    }
                }
            }
            let checker = try file.runChecker()
            #expect(checker.report.isConsistent, "seed \(seed): \(checker.report.problems.prefix(3))")
            var branches = 0, wideBranches = 0, maxChildren = 0
            try file.view { rt in
                let snapshot = rt.snapshot
                for (i, mark) in checker.marks.enumerated() where mark == 1 && i >= 2 {
                    let p = PageRef(base: snapshot.mapping.base + i * snapshot.pageSize)
                    if p.rawType == PageType.branch.rawValue { wideBranches += 1 }
                    guard p.isCompactBranch else { continue }
                    branches += 1
                    maxChildren = max(maxChildren, p.count)
                }
            }
            #expect(wideBranches == 0, "seed \(seed)")
            #expect(branches >= 2, "seed \(seed)")
            #expect(maxChildren > (4096 - PageLayout.headerSize) / (PageLayout.branchElementSize + 1), "seed \(seed): \(maxChildren)")
            file.close()
            file = try PageFile.open(path: dir.file(), options: options)
            defer { file.close() }
            var seen = 0
            try file.view { rt in
                let b = try #require(try rt.bucket(named: name))
                try b.scan(from: nil, to: nil) { k, v in
                    #expect(model[[UInt8](k)] == [UInt8](v), "seed \(seed): key \([UInt8](k))")
                    seen += 1
                    return true
                }
            }
            #expect(seen == model.count, "seed \(seed)")
        }
    }
}
