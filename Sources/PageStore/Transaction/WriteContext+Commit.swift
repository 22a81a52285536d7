/// Page allocation during one commit: free pages first, then the end of the file.
struct PageAllocator {
    var freelist: Freelist
    var pageCount: UInt64

    mutating func allocate(_ n: Int) -> PageID {
        if let id = freelist.allocate(n) { return id }
        let id = pageCount
        pageCount += UInt64(n)
        return id
    }
}

/// A page run prepared by the commit, waiting to be written.
struct PendingWrite {
    let id: PageID
    let buffer: UnsafeMutableRawBufferPointer
}

/// The page buffers of one commit, carved from zeroed slabs of many pages instead of one
/// allocation per page. Owns the slabs; freed with the commit (`release`).
final class PageBufferPool {
    let pageSize: Int
    private var slabs: [UnsafeMutableRawBufferPointer] = []
    private var current: UnsafeMutableRawBufferPointer?
    private var used = 0
    static let slabPages = 64

    init(pageSize: Int) { self.pageSize = pageSize }

    /// A zeroed buffer of `pages` pages.
    func take(pages: Int) -> UnsafeMutableRawBufferPointer {
        let bytes = pages * pageSize
        if current == nil || used + bytes > current!.count {
            let slab = UnsafeMutableRawBufferPointer.allocate(
                byteCount: max(Self.slabPages, pages) * pageSize, alignment: 4096)
            slab.initializeMemory(as: UInt8.self, repeating: 0)
            slabs.append(slab)
            current = slab
            used = 0
        }
        let b = UnsafeMutableRawBufferPointer(rebasing: current![used..<used + bytes])
        used += bytes
        return b
    }

    func release() {
        for s in slabs { s.deallocate() }
        slabs.removeAll()
        current = nil
    }

    deinit { release() }
}

extension WriteContext {
    func newBuffer(pages: Int) -> UnsafeMutableRawBufferPointer {
        buffers.take(pages: pages)
    }

    // MARK: rebalance (merge underfull nodes after deletes)

    func rebalanceAll() throws(PageStoreError) {
        while true {
            let pending = nodes.values.filter(\.unbalanced)
            if pending.isEmpty { return }
            for n in pending where n.unbalanced { try rebalance(n) }
        }
    }

    /// Serialised size of the child page `id` of a node being rebalanced: the materialised
    /// node's size if it is already in memory, else the page's recorded length (no materialise,
    /// so a sibling that is only inspected is not rewritten).
    private func siblingSize(_ id: PageID) throws(PageStoreError) -> Int {
        if let m = nodes[id] { return m.size(inlineMax: inlineMax) }
        return try snapshot.nodePage(id).length
    }

    /// Merges a node that deletes left underfull into a sibling.
    ///
    /// Two regimes: a node at most a quarter page (or with a minimal entry count) is always
    /// merged into its left sibling (right for the first child), as bbolt does — the spill
    /// splits the result again if it overflows. A node between a quarter and `mergeFill` of a
    /// page is merged only with a sibling the pair fits in one page with, so the split-then-
    /// delete pattern of MVCC (new version inserted next to the old, old deleted by compaction)
    /// does not leave the tree with half-empty leaves.
    private func rebalance(_ n: Node) throws(PageStoreError) {
        n.unbalanced = false
        guard n.page != 0, nodes[n.page] === n else { return }
        let size = n.size(inlineMax: inlineMax)
        let forced = size <= pageSize / 4 || n.count <= (n.isLeaf ? 1 : 2)
        if !forced && size > pageSize * Self.mergeFillPercent / 100 { return }
        guard let parent = n.parent else {
            // Root: collapse a branch with a single child into that child.
            if !n.isLeaf && n.count == 1 {
                let child = try materialize(n.child(0), parent: n)
                n.adopt(child)
                if !n.isLeaf { for i in 0..<n.count { nodes[n.child(i)]?.parent = n } }
                nodes[child.page] = nil
                freePage(child.page)
                n.unbalanced = true
            }
            return
        }
        guard let idx = parent.index(ofChild: n.page) else {
            throw .corruptPage(n.page, reason: "node missing from its parent")
        }
        if n.count == 0 {
            parent.entries.remove(at: idx)
            nodes[n.page] = nil
            freePage(n.page)
            parent.unbalanced = true
            return
        }
        guard parent.count > 1 else { return }
        var siblingIndex = idx == 0 ? 1 : idx - 1
        if !forced {
            // Only a merge whose result fits one page; prefer the left sibling.
            let candidates = [idx - 1, idx + 1].filter { $0 >= 0 && $0 < parent.count }
            var chosen: Int?
            for c in candidates where try siblingSize(parent.child(c)) + size - PageLayout.headerSize <= pageSize {
                chosen = c
                break
            }
            guard let chosen else { return }
            siblingIndex = chosen
        }
        let sibling = try materialize(parent.child(siblingIndex), parent: parent)
        let (target, source, sourceIndex) = siblingIndex < idx ? (sibling, n, idx) : (n, sibling, siblingIndex)
        target.appendEntries(of: source)
        if !target.isLeaf { for i in 0..<source.count { nodes[source.child(i)]?.parent = target } }
        parent.entries.remove(at: sourceIndex)
        nodes[source.page] = nil
        freePage(source.page)
        parent.unbalanced = true
        // The merged node may still be under the fill target (two small siblings).
        target.unbalanced = true
    }

    /// Nodes filled to at most this percentage of a page after deletes are merged with a
    /// sibling when the pair fits in one page.
    static var mergeFillPercent: Int { 50 }

    // MARK: spill (serialise dirty nodes into new pages)

    /// Writes every materialised node of `tree` to newly allocated pages, splitting nodes
    /// larger than a page, and points `tree.root` at the new root page.
    func spillTree(_ tree: BucketState, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) throws(PageStoreError) {
        guard let root = tree.root.node else { return }
        var parts = try spill(root, &alloc, &writes)
        while parts.count > 1 {
            let newRoot = Node(isLeaf: false, page: 0, parent: nil)
            newRoot.entries = parts.map { newRoot.makeChildEntry(key: $0.key, child: $0.page) }
            parts = try spill(newRoot, &alloc, &writes)
        }
        tree.root = TreeRoot(page: parts.first?.page ?? 0, node: nil)
    }

    private func spill(_ n: Node, _ alloc: inout PageAllocator,
                       _ writes: inout [PendingWrite]) throws(PageStoreError) -> [(key: [UInt8], page: PageID)] {
        if !n.isLeaf {
            var entries: [NodeEntry] = []
            entries.reserveCapacity(n.count + 4)
            for i in 0..<n.count {
                if let c = nodes[n.child(i)], c.parent === n {
                    for part in try spill(c, &alloc, &writes) { entries.append(n.makeChildEntry(key: part.key, child: part.page)) }
                } else {
                    entries.append(n.entries[i])
                }
            }
            n.entries = entries
        }
        if n.page != 0 {
            nodes[n.page] = nil
            freePage(n.page)
        }
        if n.count == 0 { return [] }
        if n.isLeaf {
            for i in 0..<n.count {
                let e = n.entries[i]
                if e.valueKind != .blob && PageLayout.leafElementSize + Int(e.keySize) + Int(e.valueSize) > inlineMax {
                    n.setBlob(at: i, page: writeBlob(n.inlineValue(i), &alloc, &writes))
                }
            }
        }
        var out: [(key: [UInt8], page: PageID)] = []
        for range in chunks(n) {
            let id = alloc.allocate(1)
            let buffer = newBuffer(pages: 1)
            serialize(n, range, into: buffer.baseAddress!, id: id)
            writes.append(PendingWrite(id: id, buffer: buffer))
            out.append(([UInt8](n.key(range.lowerBound)), id))
        }
        return out
    }

    /// Splits a node's elements into page-sized runs: greedy fill, then evens out the last
    /// two runs if the last one is under a quarter page.
    private func chunks(_ n: Node) -> [Range<Int>] {
        let sizes = (0..<n.count).map { n.elementSize($0, inlineMax: inlineMax) }
        var out: [Range<Int>] = []
        var start = 0, used = PageLayout.headerSize
        for i in 0..<sizes.count {
            if used + sizes[i] > pageSize && i > start {
                out.append(start..<i)
                start = i
                used = PageLayout.headerSize
            }
            used += sizes[i]
        }
        out.append(start..<sizes.count)
        if out.count >= 2 && used < pageSize / 4 {
            let lo = out[out.count - 2].lowerBound
            let total = sizes[lo...].reduce(0, +)
            var acc = 0, split = lo
            while split < sizes.count - 1 && acc + sizes[split] <= total / 2 { acc += sizes[split]; split += 1 }
            if split > lo && PageLayout.headerSize + total - acc <= pageSize {
                out[out.count - 2] = lo..<split
                out[out.count - 1] = split..<sizes.count
            }
        }
        return out
    }

    private func serialize(_ n: Node, _ range: Range<Int>, into base: UnsafeMutableRawPointer, id: PageID) {
        let w = PageWriter(base: base)
        let count = range.count
        w.writeHeader(type: n.isLeaf ? .leaf : .branch, count: count, overflow: 0, length: 0, id: id)
        let elementSize = n.isLeaf ? PageLayout.leafElementSize : PageLayout.branchElementSize
        var pos = PageLayout.headerSize + count * elementSize
        for (k, i) in range.enumerated() {
            let e = PageLayout.headerSize + k * elementSize
            let key = n.key(i)
            let entry = n.entries[i]
            if n.isLeaf {
                w.set16(e + 2, UInt16(key.count))
                w.set32(e + 8, UInt32(pos))
                w.copy(key, to: pos)
                pos += key.count
                w.set32(e + 4, entry.valueSize)
                if entry.valueKind == .blob {
                    w.set16(e, PageLayout.flagBlob)
                    w.set64(pos, entry.child)
                    pos += PageLayout.blobReferenceSize
                } else {
                    w.set16(e, 0)
                    let v = n.inlineValue(i)
                    w.copy(v, to: pos)
                    pos += v.count
                }
            } else {
                w.set64(e, entry.child)
                w.set16(e + 8, UInt16(key.count))
                w.set32(e + 12, UInt32(pos))
                w.copy(key, to: pos)
                pos += key.count
            }
        }
        precondition(pos <= pageSize, "node chunk overflows its page")
        w.set32(PageLayout.lengthOffset, UInt32(pos))
        w.seal(checkedLength: pos)
    }

    private func writeBlob(_ v: UnsafeRawBufferPointer, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) -> PageID {
        let pages = blobPages(length: v.count)
        let id = alloc.allocate(pages)
        let buffer = newBuffer(pages: pages)
        let w = PageWriter(base: buffer.baseAddress!)
        w.writeHeader(type: .blob, count: 0, overflow: pages - 1, length: v.count, id: id)
        w.copy(v, to: PageLayout.headerSize)
        w.seal(checkedLength: PageLayout.headerSize + v.count)
        writes.append(PendingWrite(id: id, buffer: buffer))
        return id
    }

    // MARK: freelist

    /// Allocates and serialises the new freelist run: every page free after a restart.
    func writeFreelist(_ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) -> PageID {
        var guess = alloc.freelist.extents(adding: freed).count + 2
        while true {
            let pages = (Freelist.encodedSize(extents: guess) + pageSize - 1) / pageSize
            let id = alloc.allocate(pages)
            let extents = alloc.freelist.extents(adding: freed)
            if Freelist.encodedSize(extents: extents.count) > pages * pageSize {
                for k in 0..<pages { freed.append(id + UInt64(k)) }
                guess = extents.count + pages + 2
                continue
            }
            let buffer = newBuffer(pages: pages)
            let w = PageWriter(base: buffer.baseAddress!)
            let used = Freelist.encodedSize(extents: extents.count)
            w.writeHeader(type: .freelist, count: 0, overflow: pages - 1, length: used, id: id)
            w.set64(PageLayout.headerSize, UInt64(extents.count))
            for (i, e) in extents.enumerated() {
                w.set64(PageLayout.headerSize + 8 + i * 16, e.0)
                w.set64(PageLayout.headerSize + 16 + i * 16, e.1)
            }
            w.seal(checkedLength: used)
            writes.append(PendingWrite(id: id, buffer: buffer))
            return id
        }
    }
}
