@testable import PageStore
import Base
import Testing
import TestThreads

/// Suffix-truncated branch separators and the page encoder: the shortest separator is the
/// shortest prefix that still separates two neighbours; trees built with them stay correct
/// (model comparison + `check()` after every transaction) and really carry shorter
/// separators; every encoded page has a zeroed tail.
@Suite struct SeparatorTests {
    @Test func shortestSeparatorExamples() {
        func len(_ a: [UInt8], _ b: [UInt8]) -> Int {
            a.withUnsafeBytes { a in b.withUnsafeBytes { b in shortestSeparatorLength(last: a, first: b) } }
        }
        #expect(len([1, 2, 3], [1, 2, 4]) == 3)
        #expect(len([1, 2, 3], [1, 3]) == 2)
        #expect(len([1, 2], [1, 2, 0]) == 3)  // `last` a prefix of `first`
        #expect(len([], [0]) == 1)
        #expect(len([5, 9, 9, 9], [6, 0, 0]) == 1)
    }

    /// For random ordered pairs: the prefix sorts after `last`, at or before `first`, and no
    /// shorter prefix of `first` sorts after `last`.
    @Test(arguments: [11, 12] as [UInt64])
    func shortestSeparatorIsMinimal(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        for _ in 0..<5_000 {
            let shared = [UInt8]((0..<Int.random(in: 0...4, using: &g)).map { _ in UInt8.random(in: 0...3, using: &g) })
            func key() -> [UInt8] { shared + (0..<Int.random(in: 0...4, using: &g)).map { _ in UInt8.random(in: 0...3, using: &g) } }
            var a = key(), b = key()
            if a == b { continue }
            if b.lexicographicallyPrecedes(a) { swap(&a, &b) }
            let n = a.withUnsafeBytes { a in b.withUnsafeBytes { b in shortestSeparatorLength(last: a, first: b) } }
            let p = Array(b[..<n])
            #expect(a.lexicographicallyPrecedes(p), "seed \(seed): \(a) < \(p)")
            #expect(!b.lexicographicallyPrecedes(p), "seed \(seed): \(p) <= \(b)")
            if n > 0 { #expect(!a.lexicographicallyPrecedes(Array(b[..<(n - 1)])), "seed \(seed): \(a) \(b) not minimal") }
        }
    }

    /// Random puts and deletes of keys with long shared prefixes (so separators must look deep
    /// into keys) in many transactions on small pages (deep trees, many splits and merges):
    /// contents equal the model and the checker finds nothing after every transaction.
    @Test(arguments: [21, 22, 23] as [UInt64])
    func treesWithTruncatedSeparatorsMatchModel(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.pageSize = 1024
            options.durable = false
            options.growthStepBytes = 64 << 10
            var file = try PageFile.open(path: dir.file(), options: options)
            defer { file.close() }
            var g = SeededGenerator(seed: seed)
            var model: [[UInt8]: [UInt8]] = [:]
            let name = bytes("b")
            func randomKey() -> [UInt8] {
                // Prefix groups of 0–40 identical bytes, then a few random bytes.
                let group = Int.random(in: 0..<6, using: &g)
                return [UInt8](repeating: UInt8(group), count: group * 8)
                    + (0..<Int.random(in: 1...6, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            }
            for round in 0..<80 {
                let context = "seed \(seed) round \(round)"
                var next = model
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for _ in 0..<Int.random(in: 1...150, using: &g) {
                        if Int.random(in: 0..<4, using: &g) == 0, let victim = next.keys.randomElement(using: &g) {
                            try b.delete(victim)
                            next[victim] = nil
                        } else {
                            let k = randomKey()
                            let v = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: Int.random(in: 0...60, using: &g))
                            try b.put(k, v)
                            next[k] = v
                        }
                    }
                }
                model = next
                let report = try file.check()
                #expect(report.problems.isEmpty, "\(context): \(report.problems.prefix(5))")
                #expect(report.keys == model.count, "\(context)")
                let got = try file.view { txn in try txn.bucket(named: name).map(dump) ?? [] }
                let want = model.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
                #expect(got.map(\.0) == want.map(\.0) && got.map(\.1) == want.map(\.1), "\(context): contents differ")
                for (k, v) in want.prefix(20) {
                    #expect(try file.view { try $0.bucket(named: name)?.get(k) } == v, "\(context): get")
                }
                if round % 20 == 19 {
                    file.close()
                    file = try PageFile.open(path: dir.file(), options: options)
                }
            }
            let shape = try TreeShape(file, bucket: name)
            #expect(shape.branchPages > 0, "seed \(seed): the tree has branch pages")
            #expect(shape.problems.isEmpty, "seed \(seed): \(shape.problems.prefix(5))")
        }
    }

    /// 16-byte random keys (as MVCC's record keys start): leaf-level separators are a few
    /// bytes long instead of whole keys, and every branch and leaf page's tail is zero.
    @Test func randomKeysGetShortSeparators() throws {
        let seed: UInt64 = 31
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.durable = false
        let file = try PageFile.open(path: dir.file(), options: options)
        defer { file.close() }
        var g = SeededGenerator(seed: seed)
        let name = bytes("records")
        for _ in 0..<20 {
            try file.update { txn in
                let b = try txn.createBucketIfNeeded(named: name)
                for _ in 0..<500 {
                    let k = (0..<34).map { _ in UInt8.random(in: 0...255, using: &g) }
                    try b.put(k, [UInt8](repeating: 7, count: 100))
                }
            }
        }
        #expect(try file.check().problems.isEmpty, "seed \(seed)")
        let shape = try TreeShape(file, bucket: name)
        #expect(shape.problems.isEmpty, "seed \(seed): \(shape.problems.prefix(5))")
        #expect(shape.branchPages > 0)
        // 10,000 random keys in ~300 leaves: neighbours differ within the first 2 bytes.
        let mean = Double(shape.separatorBytes) / Double(max(shape.separators, 1))
        #expect(mean < 4, "seed \(seed): mean separator length \(mean) bytes (keys are 34)")
    }
}

/// A walk over one bucket's committed pages: branch separator statistics, and pages whose
/// bytes past `length` are not zero.
struct TreeShape {
    var branchPages = 0
    var separators = 0
    var separatorBytes = 0
    var problems: [String] = []

    init(_ file: PageFile, bucket: [UInt8]) throws {
        let (mapping, meta) = file.shared.withLock { ($0.mapping, $0.meta) }
        let snapshot = Snapshot(mapping: mapping, meta: meta, verifyAlways: true)
        let header = try bucket.withUnsafeBytes { k in try snapshot.lookup(root: meta.directory, key: k) }
        guard let found = header else { problems.append("no bucket"); return }
        let (dirLeaf, i) = found
        let root = try WriteContext.decodeHeader(dirLeaf.leafInlineValue(i)).root
        var stack = [root]
        while let id = stack.popLast() {
            guard id != 0 else { continue }
            let p = try snapshot.nodePage(id)
            let tail = UnsafeRawBufferPointer(start: p.base + p.length, count: snapshot.pageSize - p.length)
            if tail.contains(where: { $0 != 0 }) { problems.append("page \(id): non-zero bytes after its length") }
            if p.isLeaf { continue }
            branchPages += 1
            for k in 0..<p.count {
                if k > 0 {  // key(0) of a branch is a lower bound only
                    separators += 1
                    separatorBytes += p.branchKey(k).count
                }
                stack.append(p.branchChild(k))
            }
        }
    }
}
