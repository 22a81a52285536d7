/// A leaf value held by a materialised node.
enum LeafValue {
    /// Value bytes in memory (small values, and big values written in this transaction
    /// until the commit moves them to a blob run).
    case inline([UInt8])
    /// A value already stored in the blob run starting at `page`.
    case blob(page: PageID, length: Int)

    var length: Int {
        switch self {
        case .inline(let b): b.count
        case .blob(_, let n): n
        }
    }
}

/// A branch or leaf page deserialised for modification by the write transaction that owns
/// it (bbolt's `node`). Identified by the page it was read from (`page`, 0 for a node created
/// in this transaction); the page is freed when the node is spilled. Must never be shared
/// with another transaction.
///
/// Branch invariant: `keys[i]` ≤ every key under `children[i]` < `keys[i + 1]`; lookups send
/// keys smaller than `keys[0]` to child 0.
final class Node {
    var isLeaf: Bool
    var page: PageID
    var parent: Node?
    var keys: [[UInt8]]
    /// Leaf only.
    var values: [LeafValue]
    /// Branch only: child page ids (a child materialised in this transaction is found in
    /// `WriteContext.nodes` under the same id).
    var children: [PageID]
    /// Set by deletes; the commit merges underfull nodes.
    var unbalanced = false

    init(isLeaf: Bool, page: PageID, parent: Node?) {
        self.isLeaf = isLeaf
        self.page = page
        self.parent = parent
        self.keys = []
        self.values = []
        self.children = []
    }

    /// Deserialises a validated page.
    convenience init(page p: PageRef, id: PageID, parent: Node?) {
        self.init(isLeaf: p.isLeaf, page: id, parent: parent)
        let n = p.count
        keys.reserveCapacity(n)
        if isLeaf {
            values.reserveCapacity(n)
            for i in 0..<n {
                keys.append([UInt8](p.leafKey(i)))
                if p.leafFlags(i) & PageLayout.flagBlob != 0 {
                    values.append(.blob(page: p.leafBlobPage(i), length: p.leafValueSize(i)))
                } else {
                    values.append(.inline([UInt8](p.leafInlineValue(i))))
                }
            }
        } else {
            children.reserveCapacity(n)
            for i in 0..<n {
                keys.append([UInt8](p.branchKey(i)))
                children.append(p.branchChild(i))
            }
        }
    }

    var count: Int { keys.count }

    /// Index of the first key ≥ `key`.
    func lowerBound(_ key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if keys[mid].withUnsafeBytes({ compareBytes($0, key) }) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Branch: the child index whose range holds `key`.
    func childIndex(_ key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = keys.count  // first key > target
        while lo < hi {
            let mid = (lo + hi) >> 1
            if keys[mid].withUnsafeBytes({ compareBytes($0, key) }) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? 0 : lo - 1
    }

    /// Serialised size of element `i` (element header + key + value slot).
    func elementSize(_ i: Int, inlineMax: Int) -> Int {
        if !isLeaf { return PageLayout.branchElementSize + keys[i].count }
        let v = values[i]
        let slot: Int
        switch v {
        case .inline(let b): slot = b.count > inlineMax ? PageLayout.blobReferenceSize : b.count
        case .blob: slot = PageLayout.blobReferenceSize
        }
        return PageLayout.leafElementSize + keys[i].count + slot
    }

    /// Serialised size of the whole node.
    func size(inlineMax: Int) -> Int {
        var s = PageLayout.headerSize
        for i in 0..<keys.count { s += elementSize(i, inlineMax: inlineMax) }
        return s
    }
}
