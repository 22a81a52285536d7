/// On-disk page layout: the one file that does pointer arithmetic on page bytes.
/// See docs/pagestore-format.md for the full format. All integers are little-endian;
/// the implementation assumes a little-endian host (x86-64, arm64) and refuses to build
/// elsewhere.
#if _endian(big)
#error("PageStore's on-disk format assumes a little-endian host")
#endif

/// A page number: byte offset `id * pageSize` in the file. Pages 0 and 1 are the meta pages,
/// so 0 doubles as "no page" in references.
typealias PageID = UInt64

/// What a page (or the first page of a run) holds.
enum PageType: UInt16 {
    case meta = 1
    case branch = 2
    case leaf = 3
    case freelist = 4
    case blob = 5
    /// A branch page with 6-byte elements (session 10): every child id below 2^32.
    case compactBranch = 6
}

/// Byte offsets and sizes of the page format.
enum PageLayout {
    /// Page header: checksum u32, type u16, count u16, overflow u32, length u32, id u64.
    static let headerSize = 24
    static let checksumOffset = 0
    static let typeOffset = 4
    static let countOffset = 6
    static let overflowOffset = 8
    static let lengthOffset = 12
    static let idOffset = 16
    /// Leaf element: flags u16, keySize u16, valueSize u32, position u32.
    static let leafElementSize = 12
    /// Branch element: child u64, keySize u16, unused u16, position u32.
    static let branchElementSize = 16
    /// Compact branch element: child u32, position u16; key `i` ends where key `i + 1`
    /// starts (the last at the page's `length`). Used when every child id is below 2^32.
    static let compactBranchElementSize = 6
    /// The largest child id a compact branch element holds.
    static let compactChildMax = UInt64(UInt32.max)
    /// Leaf element flag: the value is in a blob run; the value slot holds its first page id (u64).
    static let flagBlob: UInt16 = 1
    /// Size of a blob reference in a leaf's value slot.
    static let blobReferenceSize = 8
}

/// A read-only view of one page (or the first page of a run) inside the mapping. Valid only
/// while the mapping is alive, i.e. inside the transaction that produced it.
struct PageRef {
    let base: UnsafeRawPointer

    @inline(__always) func u16(_ offset: Int) -> UInt16 { base.loadUnaligned(fromByteOffset: offset, as: UInt16.self) }
    @inline(__always) func u32(_ offset: Int) -> UInt32 { base.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    @inline(__always) func u64(_ offset: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }

    var checksum: UInt32 { u32(PageLayout.checksumOffset) }
    var rawType: UInt16 { u16(PageLayout.typeOffset) }
    var count: Int { Int(u16(PageLayout.countOffset)) }
    var overflow: Int { Int(u32(PageLayout.overflowOffset)) }
    var length: Int { Int(u32(PageLayout.lengthOffset)) }
    var id: PageID { u64(PageLayout.idOffset) }
    var isLeaf: Bool { rawType == PageType.leaf.rawValue }
    var isCompactBranch: Bool { rawType == PageType.compactBranch.rawValue }

    // MARK: leaf elements

    @inline(__always) private func leafElement(_ i: Int) -> Int { PageLayout.headerSize + i * PageLayout.leafElementSize }
    @inline(__always) func leafFlags(_ i: Int) -> UInt16 { u16(leafElement(i)) }
    @inline(__always) func leafKey(_ i: Int) -> UnsafeRawBufferPointer {
        let e = leafElement(i)
        return UnsafeRawBufferPointer(start: base + Int(u32(e + 8)), count: Int(u16(e + 2)))
    }
    /// The value size (for blobs: the size of the value in the blob run).
    @inline(__always) func leafValueSize(_ i: Int) -> Int { Int(u32(leafElement(i) + 4)) }
    /// The inline value bytes (only for elements without `flagBlob`).
    @inline(__always) func leafInlineValue(_ i: Int) -> UnsafeRawBufferPointer {
        let e = leafElement(i)
        return UnsafeRawBufferPointer(start: base + Int(u32(e + 8)) + Int(u16(e + 2)), count: Int(u32(e + 4)))
    }
    /// The first page of the blob run (only for elements with `flagBlob`).
    @inline(__always) func leafBlobPage(_ i: Int) -> PageID {
        let e = leafElement(i)
        return base.loadUnaligned(fromByteOffset: Int(u32(e + 8)) + Int(u16(e + 2)), as: UInt64.self)
    }

    /// Loads the first byte of a spread of the leaf's keys (every key of a small leaf, at
    /// most 16 otherwise) before a binary search: the loads are independent, so the key lines
    /// of a cold leaf arrive in one round of memory latency instead of one round per probe
    /// (perf, session 8: serial key probes were a third of a point lookup's page time).
    /// Returns a value the caller must consume (`consumeTouch`).
    @inline(__always) func touchLeafKeys() -> UInt64 {
        let n = count
        let step = max(1, n / 16)
        var t: UInt64 = 0
        var i = step >> 1
        while i < n {
            let e = leafElement(i)
            t &+= UInt64(base.load(fromByteOffset: Int(u32(e + 8)), as: UInt8.self))
            i += step
        }
        return t
    }

    // MARK: branch elements

    @inline(__always) private func branchElement(_ i: Int) -> Int { PageLayout.headerSize + i * PageLayout.branchElementSize }
    @inline(__always) private func compactElement(_ i: Int) -> Int { PageLayout.headerSize + i * PageLayout.compactBranchElementSize }
    @inline(__always) func branchChild(_ i: Int) -> PageID {
        if isCompactBranch { return PageID(u32(compactElement(i))) }
        return u64(branchElement(i))
    }
    @inline(__always) func branchKey(_ i: Int) -> UnsafeRawBufferPointer {
        if isCompactBranch {
            let e = compactElement(i)
            let pos = Int(u16(e + 4))
            let end = i + 1 < count ? Int(u16(e + 4 + PageLayout.compactBranchElementSize)) : length
            return UnsafeRawBufferPointer(start: base + pos, count: end - pos)
        }
        let e = branchElement(i)
        return UnsafeRawBufferPointer(start: base + Int(u32(e + 12)), count: Int(u16(e + 8)))
    }

    // MARK: structural sanity (checked once, together with the checksum)

    /// Checks that every element of a branch/leaf page lies inside the page, so later
    /// accessors cannot read outside it even if a checksum collision let garbage through.
    func elementsInBounds(limit pageSize: Int) -> Bool {
        let n = count
        if isCompactBranch {
            // Keys start after the elements, in order, and the last ends at `length`.
            var previous = PageLayout.headerSize + n * PageLayout.compactBranchElementSize
            if previous > pageSize || length > pageSize { return false }
            for i in 0..<n {
                let pos = Int(u16(compactElement(i) + 4))
                if pos < previous || pos > length { return false }
                previous = pos
            }
            return true
        }
        let leaf = isLeaf
        let elementSize = leaf ? PageLayout.leafElementSize : PageLayout.branchElementSize
        if PageLayout.headerSize + n * elementSize > pageSize { return false }
        for i in 0..<n {
            if leaf {
                let e = leafElement(i)
                let pos = Int(u32(e + 8)), k = Int(u16(e + 2))
                let v = (u16(e) & PageLayout.flagBlob) != 0 ? PageLayout.blobReferenceSize : Int(u32(e + 4))
                if pos < PageLayout.headerSize || pos + k + v > pageSize { return false }
            } else {
                let e = branchElement(i)
                let pos = Int(u32(e + 12)), k = Int(u16(e + 8))
                if pos < PageLayout.headerSize || pos + k > pageSize { return false }
            }
        }
        return true
    }
}

/// A writable page buffer being prepared for a commit (not in the mapping).
struct PageWriter {
    let base: UnsafeMutableRawPointer

    @inline(__always) func set16(_ offset: Int, _ v: UInt16) { base.storeBytes(of: v, toByteOffset: offset, as: UInt16.self) }
    @inline(__always) func set32(_ offset: Int, _ v: UInt32) { base.storeBytes(of: v, toByteOffset: offset, as: UInt32.self) }
    @inline(__always) func set64(_ offset: Int, _ v: UInt64) { base.storeBytes(of: v, toByteOffset: offset, as: UInt64.self) }
    func copy(_ bytes: UnsafeRawBufferPointer, to offset: Int) {
        if let src = bytes.baseAddress, bytes.count > 0 { (base + offset).copyMemory(from: src, byteCount: bytes.count) }
    }

    /// Zeroes `[from, to)` (the unused tail of a page run, so no stale buffer bytes reach the file).
    func zero(from: Int, to: Int) {
        if to > from { (base + from).initializeMemory(as: UInt8.self, repeating: 0, count: to - from) }
    }

    func writeHeader(type: PageType, count: Int, overflow: Int, length: Int, id: PageID) {
        set16(PageLayout.typeOffset, type.rawValue)
        set16(PageLayout.countOffset, UInt16(count))
        set32(PageLayout.overflowOffset, UInt32(overflow))
        set32(PageLayout.lengthOffset, UInt32(length))
        set64(PageLayout.idOffset, id)
    }

    /// Computes and stores the checksum over `[4, checkedLength)`.
    func seal(checkedLength: Int) {
        let crc = CRC32CBridge.checksum(UnsafeRawBufferPointer(start: base + 4, count: checkedLength - 4))
        set32(PageLayout.checksumOffset, crc)
    }
}

/// How many bytes of a page run its checksum covers (from offset 0; the checksum field
/// itself is skipped): blobs cover header + value (`length` is the value size), meta pages
/// the whole page, branch / leaf / freelist pages their used bytes (`length`).
func checkedLength(type: UInt16, overflow: Int, length: Int, pageSize: Int) -> Int {
    if type == PageType.blob.rawValue { return PageLayout.headerSize + length }
    if type == PageType.meta.rawValue { return pageSize }
    return length
}

/// Consumes the result of a touch (`PageRef.touchLeafKeys`) so that the optimiser keeps its
/// loads: a branch that is never taken in practice, calling a function it cannot see through.
@inline(__always) func consumeTouch(_ t: UInt64) {
    if t == 0x9E37_79B9_7F4A_7C15 { touchSink(t) }
}

@inline(never) func touchSink(_ t: UInt64) {
    withExtendedLifetime(t) {}
}
