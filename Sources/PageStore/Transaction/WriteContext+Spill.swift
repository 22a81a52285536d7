/// One page of a spilled node as its parent sees it: the separator for the page (bytes
/// inside the page buffer just written, valid until the commit releases its buffers) and
/// the page id.
struct SpillPart {
    let separator: UnsafeRawBufferPointer
    let page: PageID
}

/// The spill: serialises every materialised node of a tree into newly allocated pages,
/// bottom-up, splitting nodes larger than a page.
///
/// Separators. A parent keeps a child's existing separator while it still bounds the child
/// from below (it may be shorter than the child's first key), and a split between two leaf
/// runs gets the shortest prefix of the right run's first key that sorts after the left
/// run's last key (suffix truncation: more children per branch page, fewer branch pages per
/// commit). Splits of branch nodes use the right run's full first separator: a prefix of it
/// could sort below keys under the left run's last child. Readers compare whole separators,
/// so the file format is unchanged; `Check` verifies key(i) ≤ keys under child(i) < key(i+1).
extension WriteContext {
    /// Writes every materialised node of `tree` to newly allocated pages, splitting nodes
    /// larger than a page, and points `tree.root` at the new root page.
    func spillTree(_ tree: BucketState, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) throws(PageStoreError) {
        guard let root = tree.root.node else { return }
        var parts: [SpillPart] = []
        try spill(root, &alloc, &writes) { parts.append($0) }
        while parts.count > 1 {
            let newRoot = Node(isLeaf: false, page: 0, parent: nil)
            newRoot.entries = parts.map { newRoot.makeChildEntry(key: $0.separator, child: $0.page) }
            parts.removeAll(keepingCapacity: true)
            try spill(newRoot, &alloc, &writes) { parts.append($0) }
        }
        tree.root = TreeRoot(page: parts.first?.page ?? 0, node: nil)
    }

    /// Spills `n` (after its materialised children), calling `emit` for each page written, in
    /// key order. A node left empty writes nothing.
    private func spill(_ n: Node, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite],
                       _ emit: (SpillPart) -> Void) throws(PageStoreError) {
        if !n.isLeaf { try spillChildren(of: n, &alloc, &writes) }
        if n.page != 0 {
            nodes[n.page] = nil
            freePage(n.page)
        }
        let count = n.count
        if count == 0 { return }
        if n.hasOversizedInlineValue(inlineMax: inlineMax) {
            for i in 0..<count {
                let e = n.entries[i]
                if e.valueKind != .blob && PageLayout.leafElementSize + Int(e.keySize) + Int(e.valueSize) > inlineMax {
                    n.setBlob(at: i, page: writeBlob(n.inlineValue(i), &alloc, &writes))
                }
            }
        }
        if n.size(inlineMax: inlineMax) <= pageSize {
            emit(writePage(n, 0..<count, &alloc, &writes, separatorLength: nil))
            return
        }
        for (j, range) in chunks(n).enumerated() {
            var length: Int?
            if j > 0 && n.isLeaf {
                length = shortestSeparatorLength(last: n.key(range.lowerBound - 1), first: n.key(range.lowerBound))
            }
            emit(writePage(n, range, &alloc, &writes, separatorLength: length))
        }
    }

    /// Spills the materialised children of branch `n` and rebuilds its entries from their
    /// pages (keeping a child's old separator while it still bounds the child from below).
    ///
    /// While every child written so far became exactly one page, entries are updated in
    /// place; the first child that splits or vanishes switches to rebuilding the entry list.
    private func spillChildren(of n: Node, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) throws(PageStoreError) {
        let kids = n.materializedChildren
        n.materializedChildren = []
        if kids.isEmpty { return }
        let marked = kidEntries(of: n, kids)
        var rebuilt: [NodeEntry]?
        for i in 0..<n.count {
            let old = n.entries[i]
            guard marked[i], let c = nodes[old.child], c.parent === n else {
                rebuilt?.append(old)
                continue
            }
            var emitted = 0
            try spill(c, &alloc, &writes) { part in
                var entry: NodeEntry
                if emitted == 0 && compareBytes(n.key(i), part.separator) <= 0 {
                    entry = old
                    entry.child = part.page
                } else {
                    entry = n.makeChildEntry(key: part.separator, child: part.page)
                }
                emitted += 1
                if rebuilt != nil {
                    rebuilt!.append(entry)
                } else if emitted == 1 {
                    n.entries[i] = entry
                } else {
                    // A split: entries before i (and i itself) are final; continue in a new list.
                    var list = Array(n.entries[0...i])
                    list.reserveCapacity(n.count + 8)
                    list.append(entry)
                    rebuilt = list
                }
            }
            if emitted == 0 && rebuilt == nil {
                var list = Array(n.entries[0..<i])
                list.reserveCapacity(n.count)
                rebuilt = list
            }
        }
        if let rebuilt { n.entries = rebuilt }
    }

    /// Marks the entries of branch `n` whose child is one of `kids` (materialised children,
    /// possibly stale or repeated), from the entry index each kid had when it was
    /// materialised, checked against the entry's page id (entries move only when deletes
    /// rebalance), with a scan of the entries as the fallback. Touches only `n`'s own memory,
    /// not the kids' (cold until their own spill). Session 10: replaces a hash-set probe per
    /// branch entry (~200 per branch page; 3% of a random-put commit).
    private func kidEntries(of n: Node, _ kids: [MaterializedChild]) -> [Bool] {
        let count = n.count
        var marked = [Bool](repeating: false, count: count)
        n.entries.withUnsafeBufferPointer { es in
            for kid in kids {
                if kid.slot >= 0 && kid.slot < count && es[kid.slot].child == kid.page {
                    marked[kid.slot] = true
                } else if let i = es.firstIndex(where: { $0.child == kid.page }) {
                    marked[i] = true
                }
            }
        }
        return marked
    }

    /// Allocates a page, encodes entries `range` of `n` into it and queues the write. The
    /// separator is the first key of the page, cut to `separatorLength` bytes when given.
    private func writePage(_ n: Node, _ range: Range<Int>, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite],
                           separatorLength: Int?) -> SpillPart {
        let id = alloc.allocatePage()
        let buffer = newBuffer(pages: 1)
        let keyOffset = n.encode(range, into: buffer.baseAddress!, id: id, pageSize: pageSize)
        writes.append(PendingWrite(id: id, buffer: buffer))
        let full = Int(n.entries[range.lowerBound].keySize)
        return SpillPart(
            separator: UnsafeRawBufferPointer(start: buffer.baseAddress! + keyOffset, count: min(separatorLength ?? full, full)),
            page: id)
    }

    /// Splits a node's elements into page-sized runs: greedy fill, then evens out the last
    /// two runs if the last one is under a quarter page.
    private func chunks(_ n: Node) -> [Range<Int>] {
        let branchElement = n.isLeaf ? 0 : n.branchElementSize()
        let sizes = (0..<n.count).map { n.elementSize($0, inlineMax: inlineMax, branchElement: branchElement) }
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
}
