/// One entry of a materialised node: where its key and value bytes live (the node's source
/// page or its arena) — plain data, so inserting and removing entries moves bytes without
/// reference counting.
struct NodeEntry {
    static let keyInArena: UInt8 = 1

    enum ValueKind: UInt8 {
        /// Inline value in the source page.
        case page = 0
        /// Value bytes in the arena (new this transaction; moved to a blob at commit if big).
        case arena = 1
        /// A blob run already on disk (`child` is its first page).
        case blob = 2
    }

    var keyOffset: UInt32
    var keySize: UInt16
    var flags: UInt8
    var valueKind: ValueKind
    var valueOffset: UInt32
    var valueSize: UInt32
    /// Branch: child page id. Leaf with a `.blob` value: first page of the blob run.
    var child: UInt64
}

/// A child a branch node materialised: its page id and the parent entry that pointed at it
/// when it was materialised (-1: unknown). Plain data.
struct MaterializedChild {
    let page: PageID
    let slot: Int
}

/// A branch or leaf page deserialised for modification by the write transaction that owns
/// it (bbolt's `node`). Identified by the page it was read from (`page`, 0 for a node created
/// in this transaction); that page is freed when the node is spilled. Unmodified entries keep
/// pointing into the source page (valid for the whole transaction: a transaction's snapshot
/// pages are never rewritten while it runs); new keys and values live in the node's arena.
/// Must never be shared with another transaction.
///
/// The hot stored properties are `@exclusivity(unchecked)` (no dynamic access tracking:
/// perf showed ~3% of a random-key commit in `swift_beginAccess`): a node is used by one
/// thread, and no method mutates a property while an access to it is in progress.
///
/// Branch invariant: key(i) ≤ every key under child(i) < key(i + 1); lookups send keys
/// smaller than key(0) to child 0.
final class Node {
    var isLeaf: Bool
    var page: PageID
    @exclusivity(unchecked) var parent: Node?
    @exclusivity(unchecked) var entries: [NodeEntry] = []
    /// Branch: children materialised under this node (appended when a child is materialised
    /// or re-parented here; may hold stale ids, so check `child.parent === self`), each with
    /// the entry index it had then (a hint: entries may have moved since). The spill visits
    /// only these instead of looking up every entry's child.
    @exclusivity(unchecked) var materializedChildren: [MaterializedChild] = []
    /// Set by deletes; the commit merges underfull nodes.
    var unbalanced = false
    @exclusivity(unchecked) private(set) var source: UnsafeRawPointer?
    @exclusivity(unchecked) private(set) var arena: UnsafeMutableRawPointer?
    @exclusivity(unchecked) private var arenaUsed = 0
    @exclusivity(unchecked) private var arenaCapacity = 0

    init(isLeaf: Bool, page: PageID, parent: Node?) {
        self.isLeaf = isLeaf
        self.page = page
        self.parent = parent
    }

    /// Deserialises a validated page (entries point into it; nothing is copied).
    /// `slot`: the entry of `parent` that points at this page, when known (-1: unknown).
    init(page p: PageRef, id: PageID, parent: Node?, slot: Int = -1) {
        self.isLeaf = p.isLeaf
        self.page = id
        self.parent = parent
        self.source = p.base
        parent?.materializedChildren.append(MaterializedChild(page: id, slot: slot))
        let n = p.count
        let base = p.base
        let leaf = p.isLeaf
        // Filled in place (no per-element append); room for a few inserts.
        entries = [NodeEntry](unsafeUninitializedCapacity: n + 4) { buffer, initialized in
            let out = buffer.baseAddress!
            if leaf {
                for i in 0..<n {
                    let e = PageLayout.headerSize + i * PageLayout.leafElementSize
                    let flags = base.loadUnaligned(fromByteOffset: e, as: UInt16.self)
                    let keySize = base.loadUnaligned(fromByteOffset: e + 2, as: UInt16.self)
                    let valueSize = base.loadUnaligned(fromByteOffset: e + 4, as: UInt32.self)
                    let pos = base.loadUnaligned(fromByteOffset: e + 8, as: UInt32.self)
                    let valuePos = pos + UInt32(keySize)
                    let isBlob = flags & PageLayout.flagBlob != 0
                    (out + i).initialize(to: NodeEntry(
                        keyOffset: pos, keySize: keySize, flags: 0, valueKind: isBlob ? .blob : .page,
                        valueOffset: valuePos, valueSize: valueSize,
                        child: isBlob ? base.loadUnaligned(fromByteOffset: Int(valuePos), as: UInt64.self) : 0))
                }
            } else if p.isCompactBranch {
                for i in 0..<n {
                    let key = p.branchKey(i)
                    (out + i).initialize(to: NodeEntry(
                        keyOffset: UInt32(key.baseAddress! - base), keySize: UInt16(key.count), flags: 0, valueKind: .page,
                        valueOffset: 0, valueSize: 0, child: p.branchChild(i)))
                }
            } else {
                for i in 0..<n {
                    let e = PageLayout.headerSize + i * PageLayout.branchElementSize
                    (out + i).initialize(to: NodeEntry(
                        keyOffset: base.loadUnaligned(fromByteOffset: e + 12, as: UInt32.self),
                        keySize: base.loadUnaligned(fromByteOffset: e + 8, as: UInt16.self), flags: 0, valueKind: .page,
                        valueOffset: 0, valueSize: 0, child: base.loadUnaligned(fromByteOffset: e, as: UInt64.self)))
                }
            }
            initialized = n
        }
    }

    deinit { arena?.deallocate() }

    /// Branch: makes materialised node `child` (one of this node's entries) a child of this one.
    func reparent(_ child: Node) {
        child.parent = self
        materializedChildren.append(MaterializedChild(page: child.page, slot: -1))
    }

    var count: Int { entries.count }

    // MARK: byte access (pointers are valid until the next change to this node)

    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer {
        let e = entries[i]
        let base = e.flags & NodeEntry.keyInArena != 0 ? UnsafeRawPointer(arena!) : source!
        return UnsafeRawBufferPointer(start: base + Int(e.keyOffset), count: Int(e.keySize))
    }

    /// Inline value bytes (`.page` or `.arena` kinds).
    @inline(__always) func inlineValue(_ i: Int) -> UnsafeRawBufferPointer {
        let e = entries[i]
        // An empty value points at nothing: an empty append allocates no arena, so a node
        // whose only new bytes are an empty value has none (MVCC's key-only buckets).
        if e.valueSize == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let base = e.valueKind == .arena ? UnsafeRawPointer(arena!) : source!
        return UnsafeRawBufferPointer(start: base + Int(e.valueOffset), count: Int(e.valueSize))
    }

    @inline(__always) func child(_ i: Int) -> PageID { entries[i].child }

    private func appendToArena(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        if arenaUsed + bytes.count > arenaCapacity {
            let capacity = max(arenaCapacity * 2, arenaUsed + bytes.count, 512)
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
            if let arena {
                grown.copyMemory(from: arena, byteCount: arenaUsed)
                arena.deallocate()
            }
            arena = grown
            arenaCapacity = capacity
        }
        let offset = arenaUsed
        if let src = bytes.baseAddress, bytes.count > 0 { (arena! + offset).copyMemory(from: src, byteCount: bytes.count) }
        arenaUsed += bytes.count
        precondition(arenaUsed <= Int(UInt32.max), "node arena exceeds 4 GiB")
        return UInt32(offset)
    }

    // MARK: changes

    /// Leaf: inserts `key` → `value` (new bytes) at `i`.
    func insert(at i: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let k = appendToArena(key)
        let v = appendToArena(value)
        entries.insert(NodeEntry(keyOffset: k, keySize: UInt16(key.count), flags: NodeEntry.keyInArena, valueKind: .arena,
                                 valueOffset: v, valueSize: UInt32(value.count), child: 0), at: i)
    }

    /// Leaf: replaces the value of entry `i` (new bytes).
    func setValue(at i: Int, _ value: UnsafeRawBufferPointer) {
        let v = appendToArena(value)
        entries[i].valueKind = .arena
        entries[i].valueOffset = v
        entries[i].valueSize = UInt32(value.count)
        entries[i].child = 0
    }

    /// Leaf: entry `i`'s value now lives in the blob run at `page`.
    func setBlob(at i: Int, page: PageID) {
        entries[i].valueKind = .blob
        entries[i].child = page
    }

    /// Branch: appends a separator (new bytes) for `child`.
    func appendChild(key: UnsafeRawBufferPointer, child: PageID) {
        let k = appendToArena(key)
        entries.append(NodeEntry(keyOffset: k, keySize: UInt16(key.count), flags: NodeEntry.keyInArena, valueKind: .page,
                                 valueOffset: 0, valueSize: 0, child: child))
    }

    /// Branch: a separator entry (key copied into the arena) for `child`, not yet inserted.
    func makeChildEntry(key: [UInt8], child: PageID) -> NodeEntry {
        key.withUnsafeBytes { makeChildEntry(key: $0, child: child) }
    }

    /// Branch: a separator entry (key bytes copied into the arena) for `child`, not yet inserted.
    func makeChildEntry(key: UnsafeRawBufferPointer, child: PageID) -> NodeEntry {
        let k = appendToArena(key)
        return NodeEntry(keyOffset: k, keySize: UInt16(key.count), flags: NodeEntry.keyInArena, valueKind: .page,
                         valueOffset: 0, valueSize: 0, child: child)
    }

    /// Appends copies of every entry of `other` (used when merging siblings).
    func appendEntries(of other: Node) {
        for i in 0..<other.count {
            var e = other.entries[i]
            e.keyOffset = appendToArena(other.key(i))
            e.flags = NodeEntry.keyInArena
            if isLeaf && e.valueKind != .blob {
                e.valueOffset = appendToArena(other.inlineValue(i))
                e.valueKind = .arena
            }
            entries.append(e)
        }
    }

    /// Takes over `other`'s entries and storage (root collapse); `other` is left empty.
    func adopt(_ other: Node) {
        isLeaf = other.isLeaf
        entries = other.entries
        arena?.deallocate()
        source = other.source
        arena = other.arena
        arenaUsed = other.arenaUsed
        arenaCapacity = other.arenaCapacity
        other.arena = nil
        other.entries = []
    }

    // MARK: search

    /// Index of the first key ≥ `key`.
    func lowerBound(_ key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(self.key(mid), key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Branch: the child index whose range holds `key`.
    func childIndex(_ key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = entries.count  // first key > target
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(self.key(mid), key) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? 0 : lo - 1
    }

    /// Index of the entry whose child is `page`.
    func index(ofChild page: PageID) -> Int? { entries.firstIndex { $0.child == page } }

    // MARK: sizes

    /// Branch: the element size its pages are written with — compact (6 bytes) when every
    /// child id fits 32 bits, else the 16-byte form. (A run of entries of a node written with
    /// the wide form may still be encoded compact: it is then only smaller.)
    func branchElementSize() -> Int {
        entries.withUnsafeBufferPointer { es in
            for e in es where e.child > PageLayout.compactChildMax { return PageLayout.branchElementSize }
            return PageLayout.compactBranchElementSize
        }
    }

    /// Serialised size of element `i` (element header + key + value slot).
    /// `inlineMax` is the largest inline leaf element (see `WriteContext.inlineMax`); a value
    /// whose element would be larger goes to a blob run. `branchElement`: a branch's
    /// `branchElementSize()` (ignored for leaves).
    @inline(__always) func elementSize(_ i: Int, inlineMax: Int, branchElement: Int) -> Int {
        let e = entries[i]
        if !isLeaf { return branchElement + Int(e.keySize) }
        let inline = PageLayout.leafElementSize + Int(e.keySize) + Int(e.valueSize)
        let slot = e.valueKind == .blob || inline > inlineMax ? PageLayout.blobReferenceSize : Int(e.valueSize)
        return PageLayout.leafElementSize + Int(e.keySize) + slot
    }

    /// Serialised size of the whole node.
    func size(inlineMax: Int) -> Int {
        let leaf = isLeaf
        return entries.withUnsafeBufferPointer { es -> Int in
            var s = PageLayout.headerSize
            if !leaf {
                var wide = false
                for e in es {
                    s += PageLayout.compactBranchElementSize + Int(e.keySize)
                    wide = wide || e.child > PageLayout.compactChildMax
                }
                if wide { s += es.count * (PageLayout.branchElementSize - PageLayout.compactBranchElementSize) }
                return s
            }
            for e in es {
                let inline = PageLayout.leafElementSize + Int(e.keySize) + Int(e.valueSize)
                s += e.valueKind == .blob || inline > inlineMax
                    ? PageLayout.leafElementSize + Int(e.keySize) + PageLayout.blobReferenceSize : inline
            }
            return s
        }
    }
}
