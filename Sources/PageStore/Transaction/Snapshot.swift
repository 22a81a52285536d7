/// The pages of one committed state seen through one mapping: every page access of a
/// transaction goes through here, which bounds page ids by the committed `pageCount` and
/// verifies checksums (see `PageFileOptions.ChecksumVerification`).
struct Snapshot {
    let mapping: Mapping
    let meta: Meta
    let verifyAlways: Bool

    var pageSize: Int { mapping.pageSize }

    /// The page run starting at `id`, validated, without a type check.
    @inline(__always) func page(_ id: PageID) throws(PageStoreError) -> PageRef {
        guard id >= 2, id < meta.pageCount else {
            throw .corruptPage(id, reason: "page id out of range [2, \(meta.pageCount))")
        }
        let p = PageRef(base: mapping.base + Int(id) * pageSize)
        if verifyAlways || !mapping.isVerified(id) { try verify(p, id) }
        return p
    }

    /// A branch or leaf page.
    @inline(__always) func nodePage(_ id: PageID) throws(PageStoreError) -> PageRef {
        let p = try page(id)
        let t = p.rawType
        guard t == PageType.leaf.rawValue || t == PageType.branch.rawValue || t == PageType.compactBranch.rawValue else {
            throw .corruptPage(id, reason: "expected a branch or leaf page, found type \(t)")
        }
        return p
    }

    /// The value bytes of the blob run at `id` (must be `length` bytes long).
    func blob(_ id: PageID, length: Int) throws(PageStoreError) -> UnsafeRawBufferPointer {
        let p = try page(id)
        guard p.rawType == PageType.blob.rawValue, p.length == length else {
            throw .corruptPage(id, reason: "expected a blob of \(length) bytes, found type \(p.rawType) length \(p.length)")
        }
        return UnsafeRawBufferPointer(start: p.base + PageLayout.headerSize, count: length)
    }

    private func verify(_ p: PageRef, _ id: PageID) throws(PageStoreError) {
        guard p.id == id else { throw .corruptPage(id, reason: "header names page \(p.id)") }
        let overflow = p.overflow
        guard id + UInt64(overflow) < meta.pageCount else {
            throw .corruptPage(id, reason: "run of \(overflow + 1) pages passes the end of the file")
        }
        let checked = checkedLength(type: p.rawType, overflow: overflow, length: p.length, pageSize: pageSize)
        guard checked >= PageLayout.headerSize, checked <= (overflow + 1) * pageSize else {
            throw .corruptPage(id, reason: "length \(p.length) does not fit its run")
        }
        let crc = CRC32CBridge.checksum(UnsafeRawBufferPointer(start: p.base + 4, count: checked - 4))
        guard crc == p.checksum else { throw .corruptPage(id, reason: "checksum mismatch") }
        let t = p.rawType
        if t == PageType.leaf.rawValue || t == PageType.branch.rawValue || t == PageType.compactBranch.rawValue {
            guard overflow == 0, p.elementsInBounds(limit: checked) else {
                throw .corruptPage(id, reason: "elements out of bounds")
            }
        }
        if !verifyAlways { mapping.markVerified(id) }
    }
}

extension Snapshot {
    /// Point lookup through committed pages only (the read-transaction fast path: no
    /// materialised nodes, no enum dispatch). Branch pages are searched through their
    /// decoded copies in the mapping's `BranchCache` (decoded on first visit), leaves in
    /// the mapping. Returns the leaf and the entry index.
    @inline(__always)
    func lookup(root: PageID, key: UnsafeRawBufferPointer) throws(PageStoreError) -> (PageRef, Int)? {
        guard root != 0 else { return nil }
        if verifyAlways { return try lookupRaw(root: root, key: key) }
        // The mapping (which owns the cache) is alive for the whole transaction: no
        // reference counting per level.
        let cache = Unmanaged.passUnretained(mapping.branches)
        var id = root
        var depth = 0
        // Set when the last decoded branch said its children are leaves: `id` is then a
        // leaf, whose cache slot is never filled, so it is not probed.
        var leafNext = false
        while true {
            if !leafNext, let d = cache._withUnsafeGuaranteedRef({ $0.branch(id) }) {
                // A decoded copy of this branch page (see `BranchCache`).
                guard depth < 64 else { throw .corruptPage(id, reason: "empty branch or cycle") }
                (id, leafNext) = d._withUnsafeGuaranteedRef { ($0.child(for: key), $0.childrenAreLeaves) }
                depth += 1
                continue
            }
            let p = try nodePage(id)
            if p.isLeaf { return Self.search(leaf: p, key) }
            guard p.count > 0, depth < 64 else { throw .corruptPage(id, reason: "empty branch or cycle") }
            // Decoded with its children's level (read once per page life, through this
            // snapshot: validated like any page it reaches).
            let decoded = DecodedBranch.make(p, childrenAreLeaves: try nodePage(p.branchChild(0)).isLeaf)
            if let d = cache._withUnsafeGuaranteedRef({ $0.insert(id, decoded) }) {
                (id, leafNext) = d._withUnsafeGuaranteedRef { ($0.child(for: key), $0.childrenAreLeaves) }
            } else {
                id = Self.child(branch: p, key)
                leafNext = false
            }
            depth += 1
        }
    }

    /// Point lookup on the raw pages only (no decoded branches): `verification == .always`.
    func lookupRaw(root: PageID, key: UnsafeRawBufferPointer) throws(PageStoreError) -> (PageRef, Int)? {
        var id = root
        var depth = 0
        while true {
            let p = try nodePage(id)
            if p.isLeaf { return Self.search(leaf: p, key) }
            guard p.count > 0, depth < 64 else { throw .corruptPage(id, reason: "empty branch or cycle") }
            id = Self.child(branch: p, key)
            depth += 1
        }
    }

    /// The entry of `key` in leaf `p`, if present.
    @inline(__always)
    static func search(leaf p: PageRef, _ key: UnsafeRawBufferPointer) -> (PageRef, Int)? {
        consumeTouch(p.touchLeafKeys())
        let n = p.count
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(p.leafKey(mid), key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo < n && compareBytes(p.leafKey(lo), key) == 0 ? (p, lo) : nil
    }

    /// The child of branch page `p` whose range holds `key`.
    @inline(__always)
    static func child(branch p: PageRef, _ key: UnsafeRawBufferPointer) -> PageID {
        var lo = 0, hi = p.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(p.branchKey(mid), key) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return p.branchChild(lo == 0 ? 0 : lo - 1)
    }

    /// The value bytes of entry `i` of leaf `p` (inline or from its blob run).
    @inline(__always)
    func value(_ p: PageRef, _ i: Int) throws(PageStoreError) -> UnsafeRawBufferPointer {
        if p.leafFlags(i) & PageLayout.flagBlob != 0 { return try blob(p.leafBlobPage(i), length: p.leafValueSize(i)) }
        return p.leafInlineValue(i)
    }
}
