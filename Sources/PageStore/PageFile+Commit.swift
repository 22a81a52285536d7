/// The commit path: allocate and serialise, write data pages, sync, write meta, sync, publish.
extension PageFile {
    func commit(_ ctx: WriteContext) throws {
        let meta = ctx.snapshot.meta
        let dirty = ctx.buckets.values.filter(\.dirty)
        if dirty.isEmpty && ctx.freed.isEmpty && ctx.directory.root.node == nil
            && ctx.requiredFeatures & ~meta.flags == 0 { return }  // read-only
        var oldestReader = shared.withLock { s in s.readers.oldest ?? s.meta.txid }
        if options.deferMetaSync && meta.txid > 0 {
            // The current meta may not be durable yet: keep the previous state's pages intact.
            oldestReader = min(oldestReader, meta.txid - 1)
        }
        var alloc = writer.withLock { w in
            PageAllocator(freelist: w.freelist, pageCount: meta.pageCount, slackPercent: options.allocationSlackPercent)
        }
        alloc.freelist.release(oldestReader: oldestReader)
        if options.writesFreelist && meta.storesFreelist && meta.freelist != 0 {
            // A freelist of several pages: set a run of the last one's size aside now
            // (`writeFreelist`).
            let old = try ctx.snapshot.page(meta.freelist)
            if old.overflow > 0 { alloc.reserveRun(old.overflow + 1) }
        }
        var writes: [PendingWrite] = []
        defer { ctx.buffers.reset() }

        try ctx.rebalanceAll()
        for b in dirty.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            try ctx.spillTree(b, &alloc, &writes)
            let header = WriteContext.encodeHeader(root: b.root.page, count: b.count)
            try b.name.withUnsafeBytes { k in _ = try ctx.put(ctx.directory, key: k, value: header) }
        }
        try ctx.rebalanceAll()
        try ctx.spillTree(ctx.directory, &alloc, &writes)
        if meta.storesFreelist && meta.freelist != 0 {
            let old = try ctx.snapshot.page(meta.freelist)
            for k in 0...old.overflow { ctx.freePage(meta.freelist + UInt64(k)) }
        }
        let newMeta: Meta
        // Format features are sticky: once a commit required one, every later meta keeps it.
        let features = (meta.flags & Meta.stickyFlags) | ctx.requiredFeatures
        if options.writesFreelist {
            let freelistPage = ctx.writeFreelist(&alloc, &writes)
            newMeta = Meta(pageSize: pageSize, directory: ctx.directory.root.page, freelist: freelistPage,
                           pageCount: alloc.pageCount, txid: meta.txid + 1, flags: features)
        } else {
            // No freelist run (rebuilt at open, `Meta.freelistNotStored`): only end the
            // commit's single-page allocations.
            alloc.finish()
            newMeta = Meta(pageSize: pageSize, directory: ctx.directory.root.page, freelist: Meta.freelistSentinel,
                           pageCount: alloc.pageCount, txid: meta.txid + 1,
                           flags: Meta.freelistNotStored | features)
        }

        do {
            try writeAndSync(writes, newMeta)
        } catch {
            shared.withLock { $0.failure = "\(error)" }
            throw error
        }

        alloc.freelist.addPending(txid: newMeta.txid, pages: ctx.freed)
        writer.withLock { $0.freelist = alloc.freelist }
        let needed = Int(newMeta.pageCount) * pageSize
        let newMapping: Mapping?
        // Pages this commit wrote were checksummed from the very bytes written: mark them
        // verified (reused page ids must not keep a stale bit from their previous contents).
        let current = shared.withLock { $0.mapping }
        if needed > current.length {
            do {
                newMapping = try Mapping(fd: fd, length: Self.roundUp(2 * needed, to: pageSize), pageSize: pageSize, path: path)
            } catch {
                shared.withLock { $0.failure = "\(error)" }
                throw error
            }
        } else {
            newMapping = nil
        }
        newMapping?.inheritVerified(from: current)
        let published = newMapping ?? current
        for w in writes {
            published.markVerified(w.id)
            // Before the meta is published: forget decoded copies of the ids' previous
            // lives (`BranchCache`; a new mapping starts empty).
            for k in 0..<(w.buffer.count / pageSize) { current.branches.invalidate(w.id + UInt64(k)) }
        }
        shared.withLock { s in
            s.meta = newMeta
            if let newMapping { s.mapping = newMapping; s.remaps += 1 }
        }
    }

    /// Grows the file if needed, writes all pages (one pwrite per page; the allocator makes
    /// them few contiguous runs, which writeback submits as one bio each), syncs, then
    /// writes and syncs the meta page.
    private func writeAndSync(_ writes: [PendingWrite], _ meta: Meta) throws(PageStoreError) {
        let needed = Int(meta.pageCount) * pageSize
        let fileSize = writer.withLock { $0.fileSize }
        if needed > fileSize {
            let grown = Self.roundUp(max(needed, fileSize + max(options.growthStepBytes, fileSize / 8)), to: pageSize)
            try Self.fault(options, .growFile)
            try io.grow(to: grown)
            writer.withLock { $0.fileSize = grown }
        }
        // One pwrite per page, in page order. Writes larger than a page make the kernel cache
        // the file in large folios (Linux ext4 since 6.16); every later one-page write into
        // such a folio, and its writeback, then walks all of the folio's block buffers (perf:
        // a third of the CPU of a random-key commit went there). Page-sized writes keep the
        // file's cache in single pages; the syscall per page costs less than that walk.
        let sorted = writes.sorted { $0.id < $1.id }
        var pages = 0, runs = 0, runEnd: PageID = 0
        for w in sorted {
            if w.id != runEnd { runs += 1 }
            runEnd = w.id + UInt64(w.buffer.count / pageSize)
            pages += w.buffer.count / pageSize
            var offset = 0
            while offset < w.buffer.count {
                try Self.fault(options, .writeData)
                let page = UnsafeRawBufferPointer(rebasing: w.buffer[offset..<offset + pageSize])
                try io.write(page, at: Int(w.id) * pageSize + offset)
                offset += pageSize
            }
        }
        writer.withLock { $0.pagesWritten += pages; $0.runsWritten += runs }
        try reach(.pageStoreAfterWrite)
        try Self.fault(options, .syncData)
        if options.durable { try io.sync() }
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 4096)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0)
        meta.encode(into: page.baseAddress!)
        try Self.fault(options, .writeMeta)
        try io.write(UnsafeRawBufferPointer(page), at: Int(meta.txid % 2) * pageSize)
        try reach(.pageStoreAfterMetaWrite)
        if !options.deferMetaSync {
            try Self.fault(options, .syncMeta)
            if options.durable { try io.sync() }
        }
    }
}
