/// The root of one tree as a transaction sees it: a committed page, possibly replaced by a
/// node the write transaction materialised (then `node` wins).
struct TreeRoot {
    var page: PageID
    var node: Node?

    var isEmpty: Bool { node.map { $0.isLeaf && $0.count == 0 } ?? (page == 0) }
}

/// One step of a path through a tree: a page of the snapshot or a materialised node.
enum TreeRef {
    case page(PageRef)
    case node(Node)

    @inline(__always) var count: Int {
        switch self {
        case .page(let p): p.count
        case .node(let n): n.count
        }
    }

    @inline(__always) var isLeaf: Bool {
        switch self {
        case .page(let p): p.isLeaf
        case .node(let n): n.isLeaf
        }
    }

    @inline(__always) func child(_ i: Int) -> PageID {
        switch self {
        case .page(let p): p.branchChild(i)
        case .node(let n): n.child(i)
        }
    }

    /// Leaf: index of the first key ≥ `key`.
    @inline(__always) func lowerBound(_ key: UnsafeRawBufferPointer) -> Int {
        switch self {
        case .page(let p):
            var lo = 0, hi = p.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if compareBytes(p.leafKey(mid), key) < 0 { lo = mid + 1 } else { hi = mid }
            }
            return lo
        case .node(let n):
            return n.lowerBound(key)
        }
    }

    /// Branch: the child whose range holds `key`.
    @inline(__always) func childIndex(_ key: UnsafeRawBufferPointer) -> Int {
        switch self {
        case .page(let p):
            var lo = 0, hi = p.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if compareBytes(p.branchKey(mid), key) <= 0 { lo = mid + 1 } else { hi = mid }
            }
            return lo == 0 ? 0 : lo - 1
        case .node(let n):
            return n.childIndex(key)
        }
    }

    /// Leaf: `key == keys[i]`.
    @inline(__always) func keyEquals(_ i: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .page(let p): compareBytes(p.leafKey(i), key) == 0
        case .node(let n): compareBytes(n.key(i), key) == 0
        }
    }

    /// Leaf: calls `body` with the key and value bytes of entry `i`.
    @inline(__always)
    func withEntry<R>(_ i: Int, _ snapshot: Snapshot,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch self {
        case .page(let p):
            let key = p.leafKey(i)
            if p.leafFlags(i) & PageLayout.flagBlob != 0 {
                return try body(key, try snapshot.blob(p.leafBlobPage(i), length: p.leafValueSize(i)))
            }
            return try body(key, p.leafInlineValue(i))
        case .node(let n):
            let e = n.entries[i]
            if e.valueKind == .blob { return try body(n.key(i), try snapshot.blob(e.child, length: Int(e.valueSize))) }
            return try body(n.key(i), n.inlineValue(i))
        }
    }

    /// Calls `body` with key `i` (leaf or branch).
    @inline(__always) func withKey<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .page(let p): try body(p.isLeaf ? p.leafKey(i) : p.branchKey(i))
        case .node(let n): try body(n.key(i))
        }
    }
}

/// Resolves page ids for one transaction: to the node a write transaction materialised for
/// that id, else to the validated page of the snapshot.
struct TreeReader {
    let snapshot: Snapshot
    /// The write transaction's materialised nodes; nil in read transactions.
    let context: WriteContext?

    @inline(__always) func resolve(_ id: PageID) throws(PageStoreError) -> TreeRef {
        if let context, let n = context.nodes[id] { return .node(n) }
        return .page(try snapshot.nodePage(id))
    }

    @inline(__always) func resolveRoot(_ root: TreeRoot) throws(PageStoreError) -> TreeRef? {
        if let n = root.node { return .node(n) }
        if root.page == 0 { return nil }
        return try resolve(root.page)
    }

    /// Point lookup: calls `body` with the value of `key`, or nil.
    func withValue<R>(_ root: TreeRoot, _ key: UnsafeRawBufferPointer,
                      _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        if context == nil && root.node == nil {
            guard let (leaf, i) = try snapshot.lookup(root: root.page, key: key) else { return try body(nil) }
            return try body(try snapshot.value(leaf, i))
        }
        guard var ref = try resolveRoot(root) else { return try body(nil) }
        while !ref.isLeaf {
            guard ref.count > 0 else { throw PageStoreError.corruptPage(0, reason: "empty branch") }
            ref = try resolve(ref.child(ref.childIndex(key)))
        }
        let i = ref.lowerBound(key)
        guard i < ref.count, ref.keyEquals(i, key) else { return try body(nil) }
        return try ref.withEntry(i, snapshot) { _, v in try body(v) }
    }
}
