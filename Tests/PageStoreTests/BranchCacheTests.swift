@testable import PageStore
import Base
import Synchronization
import Testing
import TestThreads

/// The decoded branch-page cache (`BranchCache`) against the uncached path: point lookups
/// (which use the cache) must agree with a model and with cursor seeks (which read the raw
/// pages) under random writes that free and reuse page ids, while old read transactions
/// pin earlier snapshots. Every failure message carries the seed.
@Suite struct BranchCacheTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func cachedLookupsMatchModelUnderPageReuse(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.pageSize = 1024  // many branch pages, many reused ids
            options.growthStepBytes = 64 << 10
            let file = try PageFile.open(path: dir.file(), options: options)
            var rng = SeededGenerator(seed: seed)
            var model: [[UInt8]: [UInt8]] = [:]
            var hintedBranches = 0
            let name = bytes("b")
            // Keys with a long shared prefix on some pages and none on others.
            func key(_ i: Int) -> [UInt8] {
                i % 3 == 0 ? bytes("shared/prefix/\(i % 7)/\(i)") : bytes("\(i * 7919 % 100_003)")
            }
            for round in 0..<60 {
                let context = "seed \(seed) round \(round)"
                try file.update { txn in
                    let b = try txn.createBucketIfNeeded(named: name)
                    for _ in 0..<Int.random(in: 50...400, using: &rng) {
                        let k = key(Int.random(in: 0..<3000, using: &rng))
                        if Int.random(in: 0..<3, using: &rng) == 0 {
                            _ = try b.delete(k)
                            model[k] = nil
                        } else {
                            let v = (0..<Int.random(in: 0...60, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                            try b.put(k, v)
                            model[k] = v
                        }
                    }
                }
                try file.view { rt in
                    let root = try #require(try rt.bucketRoot(named: name), "\(context)")
                    let bucket = try #require(try rt.bucket(named: name), "\(context)")
                    var cursor = bucket.makeCursor()
                    for _ in 0..<300 {
                        let k = key(Int.random(in: 0..<3100, using: &rng))
                        let cached = try k.withUnsafeBytes { raw in try rt.withValue(in: root, rawKey: raw) { $0.map { [UInt8]($0) } } }
                        #expect(cached == model[k], "\(context): cached lookup of \(k)")
                        // The uncached path: a cursor seek reads the raw branch pages.
                        let onCursor = try cursor.seek(k) ? try cursor.entry() : nil
                        let uncached = onCursor?.key == k ? onCursor?.value : nil
                        #expect(cached == uncached, "\(context): cached vs cursor for \(k)")
                        // And the raw-page lookup (no decoded branches, no level hints).
                        let raw = try k.withUnsafeBytes { key in
                            try rt.snapshot.lookupRaw(root: root.page, key: key).map { try [UInt8](rt.snapshot.value($0.0, $0.1)) }
                        }
                        #expect(cached == raw, "\(context): cached vs raw lookup for \(k)")
                    }
                    // The level hint of every decoded branch this snapshot can reach matches the
                    // branch's children (entries of freed ids describe a previous life of the id
                    // and are reached by no one until the id is reused, which empties the slot).
                    let snapshot = rt.snapshot
                    var pending = [root.page]
                    while let id = pending.popLast() {
                        let p = try snapshot.nodePage(id)
                        if p.isLeaf { continue }
                        let children = (0..<p.count).map { p.branchChild($0) }
                        pending.append(contentsOf: children)
                        guard let d = snapshot.mapping.branches.branch(id) else { continue }
                        hintedBranches += 1
                        for c in children {
                            let childIsLeaf = try snapshot.nodePage(c).isLeaf
                            #expect(d._withUnsafeGuaranteedRef { $0.childrenAreLeaves } == childIsLeaf, "\(context): level hint of page \(id), child \(c)")
                        }
                    }
                }
            }
            let cache = file.shared.withLock { $0.mapping.branches }
            #expect(cache.insertions.load(ordering: .relaxed) > 0, "seed \(seed): the cache was used")
            #expect(hintedBranches > 0, "seed \(seed): level hints were checked")
            #expect(cache.invalidations.load(ordering: .relaxed) > 0, "seed \(seed): reused ids were invalidated")
            #expect(file.stats.pageCount > 100, "seed \(seed): a tree with branch pages")
        }
    }

    /// Readers on a snapshot keep seeing it through the cache while commits reuse pages
    /// that newer snapshots freed (the reader pins them, so they are not reused).
    @Test func pinnedReaderSeesItsSnapshotWhileWriterCommits() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.pageSize = 1024
        let file = try PageFile.open(path: dir.file(), options: options)
        let name = bytes("b")
        let keys = (0..<2000).map { bytes("key-\($0 * 7 % 2000)") }
        try file.update { txn in
            let b = try txn.createBucketIfNeeded(named: name)
            for k in keys { try b.put(k, k) }
        }
        try file.view { old in
            let root = try #require(try old.bucketRoot(named: name))
            for round in 0..<10 {
                try file.update { txn in
                    let b = try #require(try txn.bucket(named: name))
                    for (i, k) in keys.enumerated() where i % 10 == round { try b.put(k, bytes("v\(round)")) }
                }
                for k in keys.prefix(300) {
                    let got = try k.withUnsafeBytes { raw in try old.withValue(in: root, rawKey: raw) { $0.map { [UInt8]($0) } } }
                    #expect(got == k, "round \(round): the old snapshot's value of \(k)")
                }
            }
        }
        try file.view { rt in
            let root = try #require(try rt.bucketRoot(named: name))
            for (i, k) in keys.enumerated() {
                let got = try k.withUnsafeBytes { raw in try rt.withValue(in: root, rawKey: raw) { $0.map { [UInt8]($0) } } }
                #expect(got == bytes("v\(i % 10)"), "latest value of \(k)")
            }
        }
    }

    /// The decoded search equals the raw page search for keys around every separator,
    /// with and without a shared prefix.
    @Test func decodedSearchMatchesRawSearch() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.pageSize = 1024
        let file = try PageFile.open(path: dir.file(), options: options)
        for prefix in ["", "p/", "a/long/shared/prefix/"] {
            let name = bytes("b" + prefix)
            try file.update { txn in
                let b = try txn.createBucketIfNeeded(named: name)
                for i in 0..<3000 { try b.put(bytes(prefix + "\(i)"), [1]) }
            }
        }
        var checkedPages = 0
        try file.view { rt in
            let snapshot = rt.snapshot
            for id in PageID(2)..<snapshot.meta.pageCount {
                let p = PageRef(base: snapshot.mapping.base + Int(id) * snapshot.pageSize)
                guard p.rawType == PageType.branch.rawValue || p.isCompactBranch, p.count > 0, (try? snapshot.nodePage(id)) != nil else { continue }
                checkedPages += 1
                let d = DecodedBranch.make(p)
                var probes: [[UInt8]] = [[], [0], [0xFF], bytes("p"), bytes("p/"), bytes("a/long/shared/prefix"), bytes("zzz")]
                for i in 0..<p.count {
                    let k = [UInt8](p.branchKey(i))
                    probes.append(k)
                    probes.append(k + [0])
                    if !k.isEmpty { probes.append(Array(k.dropLast())); probes.append(Array(k.dropLast()) + [k.last! &- 1]) }
                }
                for k in probes {
                    let raw = k.withUnsafeBytes { key -> PageID in
                        var lo = 0, hi = p.count
                        while lo < hi {
                            let mid = (lo + hi) >> 1
                            if compareBytes(p.branchKey(mid), key) <= 0 { lo = mid + 1 } else { hi = mid }
                        }
                        return p.branchChild(lo == 0 ? 0 : lo - 1)
                    }
                    let decoded = k.withUnsafeBytes { d.child(for: $0) }
                    #expect(decoded == raw, "page \(id): key \(k)")
                }
            }
        }
        #expect(checkedPages > 3)
    }
}
