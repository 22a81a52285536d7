/// The page buffers commits encode into, carved from slabs of many pages instead of one
/// allocation per page, and kept from one commit to the next (up to `keptBytes`), so a
/// commit neither allocates nor page-faults fresh memory for its pages. Buffers are not
/// zeroed: every page encoder writes each byte of the pages it takes (header, elements,
/// data, and a zeroed tail). Owned by one `PageFile`; used only by the write transaction
/// holding its writer lock, one commit at a time.
final class PageBufferPool: @unchecked Sendable {
    // @unchecked Sendable: the pool is only touched by the single writer (under the file's
    // writer lock, `PageFile.update`), so its mutable state is never accessed concurrently.
    let pageSize: Int
    let slabBytes: Int
    /// Slabs of `slabBytes`; `slabs[0..<inUse]` hold this commit's buffers.
    private var slabs: [UnsafeMutableRawBufferPointer] = []
    private var inUse = 0
    /// Bytes taken from `slabs[inUse - 1]`.
    private var used = 0
    /// Runs longer than a slab (large blobs, big freelists), freed at `reset`.
    private var oversized: [UnsafeMutableRawBufferPointer] = []
    static let slabPages = 64
    static let keptBytes = 8 << 20

    init(pageSize: Int) {
        self.pageSize = pageSize
        self.slabBytes = Self.slabPages * pageSize
    }

    /// An uninitialised buffer of `pages` pages, valid until `reset` (the caller writes every byte).
    func take(pages: Int) -> UnsafeMutableRawBufferPointer {
        let bytes = pages * pageSize
        if bytes > slabBytes {
            let run = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 4096)
            oversized.append(run)
            return run
        }
        if inUse == 0 || used + bytes > slabBytes {
            if inUse == slabs.count {
                slabs.append(UnsafeMutableRawBufferPointer.allocate(byteCount: slabBytes, alignment: 4096))
            }
            inUse += 1
            used = 0
        }
        let b = UnsafeMutableRawBufferPointer(rebasing: slabs[inUse - 1][used..<used + bytes])
        used += bytes
        return b
    }

    /// Ends a commit: every buffer taken is invalid from now on. Keeps up to `keptBytes` of
    /// slabs for the next commit.
    func reset() {
        for run in oversized { run.deallocate() }
        oversized.removeAll()
        let kept = max(1, Self.keptBytes / slabBytes)
        while slabs.count > kept { slabs.removeLast().deallocate() }
        inUse = 0
        used = 0
    }

    deinit {
        for s in slabs { s.deallocate() }
        for run in oversized { run.deallocate() }
    }
}
