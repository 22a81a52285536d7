/// Rebuilding the free pages of a committed state whose meta stores no freelist
/// (`Meta.freelistNotStored`, the default since session 12): every page below `pageCount`
/// that no tree reaches is free.
///
/// Walks the bucket directory and every bucket tree (branch and leaf pages, and the blob
/// runs leaves reference), marking pages in a bitmap; the unmarked pages of `[2, pageCount)`
/// are the free extents. A page reached twice, a child out of range or a page that fails
/// its checksum or type check is corruption and refuses the open (what `Check` would
/// report), never a freelist that could hand out a page in use. Reads only; allocates the
/// bitmap (one bit per page) and an explicit stack.
enum FreelistRebuild {
    /// The free extents of `snapshot` (sorted, coalesced).
    static func extents(of snapshot: Snapshot) throws(PageStoreError) -> [FreeExtent] {
        let pageCount = Int(snapshot.meta.pageCount)
        var used = [UInt64](repeating: 0, count: (pageCount + 63) / 64)
        func mark(_ id: PageID, pages: Int) throws(PageStoreError) {
            for k in 0..<pages {
                let p = Int(id) + k
                guard p >= 2, p < pageCount else {
                    throw .corruptPage(id, reason: "page \(p) of a run is outside [2, \(pageCount))")
                }
                let bit = UInt64(1) << UInt64(p & 63)
                if used[p >> 6] & bit != 0 { throw .corruptPage(id, reason: "page \(p) is reachable twice") }
                used[p >> 6] |= bit
            }
        }
        var roots: [PageID] = []
        var stack: [PageID] = []
        // The directory first: its leaf values are bucket headers (root page, key count).
        try walk(snapshot.meta.directory, snapshot, &stack, mark) { p, i throws(PageStoreError) in
            let header = try WriteContext.decodeHeader(p.leafInlineValue(i))
            if header.root != 0 { roots.append(header.root) }
        }
        for root in roots {
            try walk(root, snapshot, &stack, mark) { _, _ in }
        }
        var out: [FreeExtent] = []
        var p = 2
        while p < pageCount {
            if used[p >> 6] & (UInt64(1) << UInt64(p & 63)) != 0 {
                p += 1
                continue
            }
            let start = p
            while p < pageCount && used[p >> 6] & (UInt64(1) << UInt64(p & 63)) == 0 { p += 1 }
            out.append(FreeExtent(start: PageID(start), count: UInt64(p - start)))
        }
        return out
    }

    /// Marks every page of the tree at `root` (nodes and blob runs); `leafEntry` sees each
    /// inline leaf entry (page, index).
    private static func walk(_ root: PageID, _ snapshot: Snapshot, _ stack: inout [PageID],
                             _ mark: (PageID, Int) throws(PageStoreError) -> Void,
                             _ leafEntry: (PageRef, Int) throws(PageStoreError) -> Void) throws(PageStoreError) {
        guard root != 0 else { return }
        stack.removeAll(keepingCapacity: true)
        stack.append(root)
        let pageSize = snapshot.pageSize
        while let id = stack.popLast() {
            let p = try snapshot.nodePage(id)
            try mark(id, 1)
            let n = p.count
            if p.isLeaf {
                for i in 0..<n {
                    if p.leafFlags(i) & PageLayout.flagBlob != 0 {
                        let length = p.leafValueSize(i)
                        try mark(p.leafBlobPage(i), (PageLayout.headerSize + length + pageSize - 1) / pageSize)
                    } else {
                        try leafEntry(p, i)
                    }
                }
            } else {
                guard n > 0 else { throw .corruptPage(id, reason: "empty branch") }
                for i in 0..<n { stack.append(p.branchChild(i)) }
            }
        }
    }
}
