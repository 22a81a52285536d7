/// The page encoder of a materialised node: writes a run of its entries as one branch or
/// leaf page straight into a commit's page buffer (no intermediate arrays), in the layout of
/// `PageLayout` (docs/architecture.md, file format).
extension Node {
    /// Encodes entries `range` as page `id` into `base` (a buffer of `pageSize` bytes):
    /// header, element array, key / value bytes packed after it, a zeroed tail, then the
    /// checksum. Leaf entries must already be inline or blob references (the spill moves
    /// large values to blob runs first). Returns the byte offset of the first key in the page.
    func encode(_ range: Range<Int>, into base: UnsafeMutableRawPointer, id: PageID, pageSize: Int) -> Int {
        if !isLeaf && entries[range].allSatisfy({ $0.child <= PageLayout.compactChildMax }) {
            return encodeCompactBranch(range, into: base, id: id, pageSize: pageSize)
        }
        let w = PageWriter(base: base)
        let count = range.count
        let leaf = isLeaf
        w.writeHeader(type: leaf ? .leaf : .branch, count: count, overflow: 0, length: 0, id: id)
        let elementSize = leaf ? PageLayout.leafElementSize : PageLayout.branchElementSize
        let dataStart = PageLayout.headerSize + count * elementSize
        let source = self.source
        let arena = self.arena.map { UnsafeRawPointer($0) }
        let end = entries.withUnsafeBufferPointer { es -> Int in
            var pos = dataStart
            var e = PageLayout.headerSize
            var run = CopyRun(base: base)
            defer { run.flush() }
            for i in range {
                let entry = es[i]
                let keyBase = entry.flags & NodeEntry.keyInArena != 0 ? arena! : source!
                let keySize = Int(entry.keySize)
                run.copy(keyBase + Int(entry.keyOffset), count: keySize, to: pos)
                if leaf {
                    w.set32(e + 8, UInt32(pos))
                    pos += keySize
                    w.set32(e + 4, entry.valueSize)
                    if entry.valueKind == .blob {
                        w.set16(e, PageLayout.flagBlob)
                        w.set64(pos, entry.child)
                        pos += PageLayout.blobReferenceSize
                    } else {
                        w.set16(e, 0)
                        let valueSize = Int(entry.valueSize)
                        if valueSize > 0 {
                            let valueBase = entry.valueKind == .arena ? arena! : source!
                            run.copy(valueBase + Int(entry.valueOffset), count: valueSize, to: pos)
                            pos += valueSize
                        }
                    }
                    w.set16(e + 2, entry.keySize)
                } else {
                    w.set64(e, entry.child)
                    w.set16(e + 8, entry.keySize)
                    w.set16(e + 10, 0)
                    w.set32(e + 12, UInt32(pos))
                    pos += keySize
                }
                e += elementSize
            }
            return pos
        }
        precondition(end <= pageSize, "node chunk overflows its page")
        w.set32(PageLayout.lengthOffset, UInt32(end))
        w.zero(from: end, to: pageSize)
        w.seal(checkedLength: end)
        return dataStart
    }

    /// `encode` for a branch run whose children all have ids below 2^32: a compact branch
    /// page (6-byte elements: child u32, key position u16; keys packed in order, the last
    /// ending at `length`). A random-put commit rewrites most level-1 branch pages; 6 instead
    /// of 16 bytes per child gives them about twice the children, so a 1,000-put batch
    /// rewrites fewer of them (session 10).
    private func encodeCompactBranch(_ range: Range<Int>, into base: UnsafeMutableRawPointer, id: PageID, pageSize: Int) -> Int {
        let w = PageWriter(base: base)
        let count = range.count
        w.writeHeader(type: .compactBranch, count: count, overflow: 0, length: 0, id: id)
        let dataStart = PageLayout.headerSize + count * PageLayout.compactBranchElementSize
        let source = self.source
        let arena = self.arena.map { UnsafeRawPointer($0) }
        let end = entries.withUnsafeBufferPointer { es -> Int in
            var pos = dataStart
            var e = PageLayout.headerSize
            var run = CopyRun(base: base)
            defer { run.flush() }
            for i in range {
                let entry = es[i]
                let keyBase = entry.flags & NodeEntry.keyInArena != 0 ? arena! : source!
                let keySize = Int(entry.keySize)
                run.copy(keyBase + Int(entry.keyOffset), count: keySize, to: pos)
                w.set32(e, UInt32(entry.child))
                w.set16(e + 4, UInt16(pos))
                pos += keySize
                e += PageLayout.compactBranchElementSize
            }
            return pos
        }
        precondition(end <= pageSize, "node chunk overflows its page")
        w.set32(PageLayout.lengthOffset, UInt32(end))
        w.zero(from: end, to: pageSize)
        w.seal(checkedLength: end)
        return dataStart
    }

    /// Whether some leaf entry holds an inline value too large for a page element (it must
    /// move to a blob run before encoding).
    func hasOversizedInlineValue(inlineMax: Int) -> Bool {
        guard isLeaf else { return false }
        return entries.withUnsafeBufferPointer { es -> Bool in
            for e in es where e.valueKind != .blob
                && PageLayout.leafElementSize + Int(e.keySize) + Int(e.valueSize) > inlineMax {
                return true
            }
            return false
        }
    }
}

/// The shortest branch separator between two neighbouring leaf runs: the length of the
/// shortest prefix of `first` (the right run's first key) that sorts after `last` (the left
/// run's last key). Requires `last < first`. That prefix `p` satisfies `last < p ≤ first`, so
/// it routes every key of both runs as their full first key would (readers compare whole
/// separators; the file format does not change).
func shortestSeparatorLength(last: UnsafeRawBufferPointer, first: UnsafeRawBufferPointer) -> Int {
    let n = min(last.count, first.count)
    var common = 0
    while common < n && last[common] == first[common] { common += 1 }
    // `last` < `first`: either they differ at `common` (first's byte is larger) or `last` is
    // a proper prefix of `first`; in both cases one more byte of `first` sorts after `last`.
    return min(common + 1, first.count)
}

/// Coalesces the byte copies of a page encoding: a copy whose source and destination both
/// continue the previous one extends it, so unchanged entries (key and value adjacent in the
/// source page, entries in source order) are copied in one `memcpy` per run instead of two
/// per entry.
struct CopyRun {
    let base: UnsafeMutableRawPointer
    private var source: UnsafeRawPointer?
    private var destination = 0
    private var count = 0

    init(base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always) mutating func copy(_ from: UnsafeRawPointer, count n: Int, to offset: Int) {
        guard n > 0 else { return }
        if let s = source, s + count == from, destination + count == offset {
            count += n
            return
        }
        flush()
        source = from
        destination = offset
        count = n
    }

    @inline(__always) mutating func flush() {
        if let s = source, count > 0 { (base + destination).copyMemory(from: s, byteCount: count) }
        source = nil
        count = 0
    }
}
