/// A page run prepared by the commit, waiting to be written.
struct PendingWrite {
    let id: PageID
    let buffer: UnsafeMutableRawBufferPointer
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
                n.materializedChildren.removeAll()
                if !n.isLeaf { for i in 0..<n.count { if let c = nodes[n.child(i)] { n.reparent(c) } } }
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
        if !target.isLeaf { for i in 0..<source.count { if let c = nodes[source.child(i)] { target.reparent(c) } } }
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

    func writeBlob(_ v: UnsafeRawBufferPointer, _ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) -> PageID {
        let pages = blobPages(length: v.count)
        let id = alloc.allocateRun(pages)
        let buffer = newBuffer(pages: pages)
        let w = PageWriter(base: buffer.baseAddress!)
        w.writeHeader(type: .blob, count: 0, overflow: pages - 1, length: v.count, id: id)
        w.copy(v, to: PageLayout.headerSize)
        w.zero(from: PageLayout.headerSize + v.count, to: buffer.count)
        w.seal(checkedLength: PageLayout.headerSize + v.count)
        writes.append(PendingWrite(id: id, buffer: buffer))
        return id
    }

    // MARK: freelist

    /// Allocates and serialises the new freelist run: every page free after a restart.
    /// Ends the commit's single-page allocations (`PageAllocator.finish`).
    ///
    /// A freelist of several pages gets a run with headroom (an eighth more pages than it
    /// needs; only the pages holding bytes are written, the rest of the run is unspecified),
    /// and the next commits reuse a run of that size (set aside at their start,
    /// `PageAllocator.reserveRun`): the run freed two commits earlier, so consecutive
    /// freelists alternate between two places instead of claiming the file's tail whenever
    /// the freelist grows by a page.
    func writeFreelist(_ alloc: inout PageAllocator, _ writes: inout [PendingWrite]) -> PageID {
        alloc.finish()
        var reserved = alloc.takeReserved()
        while true {
            // Giving a reserved run back can add one extent: hence the margin of 2.
            let need = (Freelist.encodedSize(extents: alloc.freelist.extents(adding: freed).count + 2) + pageSize - 1) / pageSize
            let id: PageID
            let runPages: Int
            if let r = reserved, need <= r.count {
                (id, runPages) = (r.start, r.count)
            } else {
                if let r = reserved {
                    alloc.freelist.giveBack(start: r.start, count: UInt64(r.count))
                    alloc.freelist.compact()
                }
                runPages = need > 1 ? need + need / 8 + 1 : 1
                id = alloc.allocateRun(runPages)
            }
            reserved = nil
            let extents = alloc.freelist.extents(adding: freed)
            let used = Freelist.encodedSize(extents: extents.count)
            if used > need * pageSize {
                for k in 0..<runPages { freed.append(id + UInt64(k)) }
                continue
            }
            let pages = (used + pageSize - 1) / pageSize
            let buffer = newBuffer(pages: pages)
            let w = PageWriter(base: buffer.baseAddress!)
            w.writeHeader(type: .freelist, count: 0, overflow: runPages - 1, length: used, id: id)
            w.set64(PageLayout.headerSize, UInt64(extents.count))
            for (i, e) in extents.enumerated() {
                w.set64(PageLayout.headerSize + 8 + i * 16, e.start)
                w.set64(PageLayout.headerSize + 16 + i * 16, e.count)
            }
            w.zero(from: used, to: buffer.count)
            w.seal(checkedLength: used)
            writes.append(PendingWrite(id: id, buffer: buffer))
            return id
        }
    }
}
