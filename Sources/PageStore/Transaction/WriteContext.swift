/// The state of one bucket inside a write transaction: its (possibly materialised) root
/// and key count, and whether the commit must write its header back to the directory.
final class BucketState {
    let name: [UInt8]
    @exclusivity(unchecked) var root: TreeRoot
    @exclusivity(unchecked) var count: Int
    var dirty = false
    /// Set when the bucket is deleted; handles to it then refuse to work.
    var deleted = false

    init(name: [UInt8], root: PageID, count: Int) {
        self.name = name
        self.root = TreeRoot(page: root, node: nil)
        self.count = count
    }
}

/// Everything one write transaction owns: the snapshot it started from, the nodes it
/// materialised (by original page id), the buckets it opened, and the pages it freed.
/// Lives only for the duration of `PageFile.update`; nothing here is visible to readers
/// until the commit publishes a new meta. Used by one thread (the writer); its hot stored
/// properties skip dynamic exclusivity tracking (`@exclusivity(unchecked)`), as no method
/// mutates one while an access to it is in progress.
final class WriteContext {
    let snapshot: Snapshot
    let pageSize: Int
    /// The largest inline leaf element (header + key + value): half a page's body, so any two
    /// elements fit in one page. Values whose element would be larger go to blob runs.
    let inlineMax: Int
    let maxKeySize: Int
    let maxValueSize: Int
    @exclusivity(unchecked) var nodes: [PageID: Node] = [:]
    var buckets: [[UInt8]: BucketState] = [:]
    let directory: BucketState
    /// Pages of the snapshot this transaction stopped using (they become pending at commit).
    @exclusivity(unchecked) var freed: [PageID] = []
    var open = true
    /// Bumped by every modification; cursors compare it to detect invalidation.
    @exclusivity(unchecked) var mutations = 0
    /// Meta flags (`Meta.stickyFlags`) this transaction requires of the file from its commit on.
    var requiredFeatures: UInt32 = 0
    /// Buffers of the pages the commit writes (the file's pool, reset after the commit).
    let buffers: PageBufferPool

    init(snapshot: Snapshot, maxValueSize: Int, buffers: PageBufferPool) {
        self.snapshot = snapshot
        self.pageSize = snapshot.pageSize
        self.inlineMax = (snapshot.pageSize - PageLayout.headerSize) / 2
        self.maxKeySize = PageFile.maxKeySize(pageSize: snapshot.pageSize)
        self.maxValueSize = maxValueSize
        self.directory = BucketState(name: [], root: snapshot.meta.directory, count: 0)
        precondition(buffers.pageSize == snapshot.pageSize, "page buffers of another page size")
        self.buffers = buffers
    }

    var reader: TreeReader { TreeReader(snapshot: snapshot, context: self) }

    // MARK: materialising

    /// `slot`: the entry of `parent` pointing at `id`, when known (a hint for the spill).
    func materialize(_ id: PageID, parent: Node?, slot: Int = -1) throws(PageStoreError) -> Node {
        if let n = nodes[id] { return n }
        let n = Node(page: try snapshot.nodePage(id), id: id, parent: parent, slot: slot)
        nodes[id] = n
        return n
    }

    /// The root node of `tree`, materialised (a new empty leaf for an empty tree).
    func rootNode(_ tree: BucketState) throws(PageStoreError) -> Node {
        if let n = tree.root.node { return n }
        let n = tree.root.page == 0 ? Node(isLeaf: true, page: 0, parent: nil) : try materialize(tree.root.page, parent: nil)
        tree.root.node = n
        return n
    }

    /// Materialises the path to the leaf that holds (or would hold) `key`.
    func leafFor(_ tree: BucketState, _ key: UnsafeRawBufferPointer) throws(PageStoreError) -> Node {
        var n = try rootNode(tree)
        while !n.isLeaf {
            guard n.count > 0 else { throw .corruptPage(n.page, reason: "empty branch") }
            let i = n.childIndex(key)
            n = try materialize(n.child(i), parent: n, slot: i)
        }
        return n
    }

    // MARK: freeing

    func freePage(_ id: PageID) {
        if id != 0 { freed.append(id) }
    }

    /// Frees the blob run of leaf entry `i`, if its value is in one.
    func freeValue(_ n: Node, _ i: Int) {
        let e = n.entries[i]
        if e.valueKind == .blob { freeBlob(e.child, length: Int(e.valueSize)) }
    }

    func freeBlob(_ id: PageID, length: Int) {
        let pages = blobPages(length: length)
        for k in 0..<pages { freed.append(id + UInt64(k)) }
    }

    func blobPages(length: Int) -> Int { (PageLayout.headerSize + length + pageSize - 1) / pageSize }

    // MARK: writes

    func validate(key: UnsafeRawBufferPointer) throws(PageStoreError) {
        if key.count == 0 { throw .emptyKey }
        if key.count > maxKeySize { throw .keyTooLarge(size: key.count, max: maxKeySize) }
    }

    /// Inserts or replaces; returns true when the key is new.
    @discardableResult
    func put(_ tree: BucketState, key: UnsafeRawBufferPointer, value: [UInt8]) throws(PageStoreError) -> Bool {
        try validate(key: key)
        if value.count > maxValueSize { throw .valueTooLarge(size: value.count, max: maxValueSize) }
        let leaf = try leafFor(tree, key)
        let i = leaf.lowerBound(key)
        tree.dirty = true
        if i < leaf.count && compareBytes(leaf.key(i), key) == 0 {
            freeValue(leaf, i)
            value.withUnsafeBytes { leaf.setValue(at: i, $0) }
            return false
        }
        value.withUnsafeBytes { leaf.insert(at: i, key: key, value: $0) }
        tree.count += 1
        return true
    }

    /// Removes `key`; returns whether it existed. Does not materialise anything for a
    /// missing key.
    @discardableResult
    func delete(_ tree: BucketState, key: UnsafeRawBufferPointer) throws -> Bool {
        let exists = try reader.withValue(tree.root, key) { $0 != nil }
        guard exists else { return false }
        let leaf = try leafFor(tree, key)
        let i = leaf.lowerBound(key)
        guard i < leaf.count, compareBytes(leaf.key(i), key) == 0 else { return false }
        freeValue(leaf, i)
        leaf.entries.remove(at: i)
        leaf.unbalanced = true
        tree.count -= 1
        tree.dirty = true
        return true
    }

    /// Removes every key in `[lo, hi)` leaf by leaf: each affected leaf is materialised once
    /// and its matching entries removed in one step (empty leaves are dropped at commit).
    func deleteRange(_ tree: BucketState, from lo: UnsafeRawBufferPointer?, to hi: UnsafeRawBufferPointer?) throws -> Int {
        var removed = 0
        var next: [UInt8]? = lo.map { [UInt8]($0) }
        while true {
            var cursor = TreeCursor(reader: reader, root: tree.root)
            let found = try next.map { n in try n.withUnsafeBytes { try cursor.seek($0) } } ?? cursor.first()
            guard found else { break }
            let first = cursor.withKey { [UInt8]($0) }
            if let hi, first.withUnsafeBytes({ compareBytes($0, hi) }) >= 0 { break }
            let leaf = try first.withUnsafeBytes { try leafFor(tree, $0) }
            let start = first.withUnsafeBytes { leaf.lowerBound($0) }
            var end = start
            while end < leaf.count, hi.map({ compareBytes(leaf.key(end), $0) < 0 }) ?? true {
                freeValue(leaf, end)
                end += 1
            }
            let reachedHi = end < leaf.count
            leaf.entries.removeSubrange(start..<end)
            leaf.unbalanced = true
            tree.count -= end - start
            tree.dirty = true
            removed += end - start
            if reachedHi || end == start { break }
            next = first
        }
        return removed
    }

    /// Frees every page of `tree` (nodes, blobs) and forgets its materialised nodes.
    func freeTree(_ tree: BucketState) throws {
        guard let rootRef = try reader.resolveRoot(tree.root) else { return }
        var stack: [(TreeRef, PageID)] = [(rootRef, tree.root.node?.page ?? tree.root.page)]
        while let (ref, id) = stack.popLast() {
            freePage(id)
            nodes[id] = nil
            switch ref {
            case .page(let p):
                for i in 0..<p.count {
                    if p.isLeaf {
                        if p.leafFlags(i) & PageLayout.flagBlob != 0 {
                            freeBlob(p.leafBlobPage(i), length: p.leafValueSize(i))
                        }
                    } else {
                        let c = p.branchChild(i)
                        stack.append((try reader.resolve(c), c))
                    }
                }
            case .node(let n):
                if n.isLeaf {
                    for i in 0..<n.count { freeValue(n, i) }
                } else {
                    for i in 0..<n.count { stack.append((try reader.resolve(n.child(i)), n.child(i))) }
                }
            }
        }
        tree.root = TreeRoot(page: 0, node: nil)
        tree.count = 0
    }

    // MARK: buckets

    static func encodeHeader(root: PageID, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes {
            $0.storeBytes(of: root.littleEndian, toByteOffset: 0, as: UInt64.self)
            $0.storeBytes(of: UInt64(count).littleEndian, toByteOffset: 8, as: UInt64.self)
        }
        return out
    }

    static func decodeHeader(_ b: UnsafeRawBufferPointer) throws(PageStoreError) -> (root: PageID, count: Int) {
        guard b.count == 16 else { throw .corruptPage(0, reason: "bucket header of \(b.count) bytes") }
        return (b.loadUnaligned(fromByteOffset: 0, as: UInt64.self), Int(b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }

    /// The open state of bucket `name`, or nil if it does not exist.
    func bucket(_ name: [UInt8]) throws -> BucketState? {
        if let b = buckets[name] { return b }
        let header = try name.withUnsafeBytes { key in
            try reader.withValue(directory.root, key) { v in try v.map { v in try Self.decodeHeader(v) } }
        }
        guard let header else { return nil }
        let b = BucketState(name: name, root: header.root, count: header.count)
        buckets[name] = b
        return b
    }

    func createBucket(_ name: [UInt8]) throws -> BucketState {
        if let b = try bucket(name) { return b }
        try name.withUnsafeBytes { k in try validate(key: k) }
        let b = BucketState(name: name, root: 0, count: 0)
        b.dirty = true
        buckets[name] = b
        return b
    }

    func deleteBucket(_ name: [UInt8]) throws -> Bool {
        guard let b = try bucket(name) else { return false }
        try freeTree(b)
        b.deleted = true
        buckets[name] = nil
        try name.withUnsafeBytes { k in _ = try delete(directory, key: k) }
        return true
    }
}
