/// The result of `PageFile.check()`: counts, and every inconsistency found (empty when the
/// file is consistent).
public struct CheckReport: Sendable {
    public var txid: UInt64 = 0
    public var pageCount = 0
    public var usedPages = 0
    public var freePages = 0
    public var buckets = 0
    public var keys = 0
    public var problems: [String] = []
    public var isConsistent: Bool { problems.isEmpty }
}

/// Walks one committed state and checks the structural invariants: every page in
/// `[0, pageCount)` is reachable exactly once, as meta, tree node, blob, freelist or free
/// page; checksums hold (all re-verified); keys are strictly ordered within and across
/// pages and lie within their branch separators; all leaves are at the same depth; bucket
/// key counts match their headers.
struct Checker {
    let snapshot: Snapshot
    var report = CheckReport()
    /// 0 = unseen, 1 = used, 2 = free.
    var marks: [UInt8]
    static let problemLimit = 100

    init(snapshot: Snapshot) {
        self.snapshot = snapshot
        marks = [UInt8](repeating: 0, count: Int(snapshot.meta.pageCount))
        report.txid = snapshot.meta.txid
        report.pageCount = Int(snapshot.meta.pageCount)
    }

    mutating func problem(_ s: String) {
        if report.problems.count < Self.problemLimit { report.problems.append(s) }
    }

    mutating func mark(_ id: PageID, pages: Int, as kind: UInt8, what: String) {
        for k in 0..<pages {
            let p = Int(id) + k
            guard p < marks.count else { problem("\(what) page \(p) is beyond pageCount \(marks.count)"); return }
            if marks[p] != 0 { problem("page \(p) (\(what)) is reachable twice") } else { marks[p] = kind }
        }
    }

    mutating func run(free: [PageID]) {
        mark(0, pages: 2, as: 1, what: "meta")
        var bucketRoots: [([UInt8], PageID, Int)] = []
        var leafDepth: Int? = nil
        walk(snapshot.meta.directory, lo: nil, hi: nil, depth: 0, leafDepth: &leafDepth, keys: nil) { key, value in
            guard let h = try? WriteContext.decodeHeader(value) else { return "bucket \(key) has a malformed header" }
            bucketRoots.append((key, h.root, h.count))
            return nil
        }
        report.buckets = bucketRoots.count
        for (name, root, count) in bucketRoots {
            var depth: Int? = nil
            var n = 0
            walk(root, lo: nil, hi: nil, depth: 0, leafDepth: &depth, keys: &n) { _, _ in nil }
            if n != count { problem("bucket \(name) header says \(count) keys, tree has \(n)") }
            report.keys += n
        }
        if !snapshot.meta.storesFreelist {
            // Rebuilt at open: the free pages below must be exactly the unreachable ones.
            if snapshot.meta.freelist != Meta.freelistSentinel {
                problem("meta without a stored freelist names freelist page \(snapshot.meta.freelist), not \(Meta.freelistSentinel)")
            }
        } else if snapshot.meta.freelist != 0 {
            do {
                let p = try snapshot.page(snapshot.meta.freelist)
                _ = try Freelist.decode(p, id: snapshot.meta.freelist, pageCount: snapshot.meta.pageCount, pageSize: snapshot.pageSize)
                mark(snapshot.meta.freelist, pages: p.overflow + 1, as: 1, what: "freelist")
            } catch { problem("freelist: \(error)") }
        }
        for id in free { mark(id, pages: 1, as: 2, what: "free") }
        for (i, m) in marks.enumerated() where m == 0 { problem("page \(i) is neither reachable nor free (leaked)") }
        report.usedPages = marks.count { $0 == 1 }
        report.freePages = marks.count { $0 == 2 }
    }

    /// Checks the subtree at `id`: all keys in `[lo, hi)`, strictly increasing (tracked via
    /// `last`), leaves at a single depth. `visit` checks leaf entries and returns a problem.
    private mutating func walk(_ id: PageID, lo: [UInt8]?, hi: [UInt8]?, depth: Int, leafDepth: inout Int?,
                               keys: UnsafeMutablePointer<Int>?, visit: ([UInt8], UnsafeRawBufferPointer) -> String?) {
        var last: [UInt8]? = nil
        walkInner(id, lo: lo, hi: hi, depth: depth, leafDepth: &leafDepth, last: &last, keys: keys, visit: visit)
    }

    private mutating func walkInner(_ id: PageID, lo: [UInt8]?, hi: [UInt8]?, depth: Int, leafDepth: inout Int?,
                                    last: inout [UInt8]?, keys: UnsafeMutablePointer<Int>?,
                                    visit: ([UInt8], UnsafeRawBufferPointer) -> String?) {
        guard id != 0 else { return }
        let p: PageRef
        do { p = try snapshot.nodePage(id) } catch { problem("\(error)"); return }
        mark(id, pages: 1, as: 1, what: p.isLeaf ? "leaf" : "branch")
        if depth > 64 { problem("page \(id): tree deeper than 64"); return }
        if p.count == 0 { problem("page \(id): empty \(p.isLeaf ? "leaf" : "branch")") }
        for i in 0..<p.count {
            let key = [UInt8](p.isLeaf ? p.leafKey(i) : p.branchKey(i))
            if p.isLeaf {
                if let lo, key.lexicographicallyPrecedes(lo) { problem("page \(id): key \(key) below its separator \(lo)") }
                if let hi, !key.lexicographicallyPrecedes(hi) { problem("page \(id): key \(key) not below next separator \(hi)") }
                if let l = last, !l.lexicographicallyPrecedes(key) { problem("page \(id): key \(key) not after \(l)") }
                last = key
                keys?.pointee += 1
                let value: UnsafeRawBufferPointer
                if p.leafFlags(i) & PageLayout.flagBlob != 0 {
                    let blob = p.leafBlobPage(i), length = p.leafValueSize(i)
                    do {
                        value = try snapshot.blob(blob, length: length)
                        mark(blob, pages: (PageLayout.headerSize + length + snapshot.pageSize - 1) / snapshot.pageSize,
                             as: 1, what: "blob")
                    } catch { problem("\(error)"); continue }
                } else {
                    value = p.leafInlineValue(i)
                }
                if let s = visit(key, value) { problem(s) }
            } else {
                // Separator of child i: keys[i] (child 0 also takes smaller keys only if it is the leftmost).
                let childLo = i == 0 ? (lo.map { max($0, key, by: \.self) } ?? key) : key
                let childHi = i + 1 < p.count ? [UInt8](p.branchKey(i + 1)) : hi
                if i + 1 < p.count, let h = childHi, !key.lexicographicallyPrecedes(h) {
                    problem("page \(id): separators out of order at \(i)")
                }
                walkInner(p.branchChild(i), lo: childLo, hi: childHi, depth: depth + 1, leafDepth: &leafDepth,
                          last: &last, keys: keys, visit: visit)
            }
        }
        if p.isLeaf {
            if let d = leafDepth, d != depth { problem("page \(id): leaf at depth \(depth), others at \(d)") }
            leafDepth = depth
        }
    }
}

private func max(_ a: [UInt8], _ b: [UInt8], by _: KeyPath<[UInt8], [UInt8]>) -> [UInt8] {
    a.lexicographicallyPrecedes(b) ? b : a
}

extension PageFile {
    /// Checks the consistency of the last committed state (see `Checker`), re-verifying
    /// every checksum. Blocks writers while it runs; readers continue.
    public func check() throws(PageStoreError) -> CheckReport {
        try runChecker().report
    }

    /// Runs the checker and returns it (tests read its per-page marks).
    func runChecker() throws(PageStoreError) -> Checker {
        writerLock.lock()
        defer { writerLock.unlock() }
        let snapshot = try shared.withLock { s throws(PageStoreError) -> Snapshot in
            try s.checkUsable()
            return Snapshot(mapping: s.mapping, meta: s.meta, verifyAlways: true)
        }
        let free = writer.withLock { w in w.freelist.extents(adding: []).flatMap { e in (0..<e.count).map { e.start + $0 } } }
        var checker = Checker(snapshot: snapshot)
        checker.run(free: free)
        return checker
    }
}
