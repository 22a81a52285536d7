/// An element stored in a `BTree`, ordered by its byte-string key.
protocol BTreeElement {
    var key: [UInt8] { get }
}

/// A node of `BTree`. A leaf holds elements; an inner node holds children and separators,
/// `separators[i]` being the smallest key of `children[i + 1]`.
///
/// Its stored properties skip dynamic exclusivity checks (`@exclusivity(unchecked)`): the
/// owning tree is used by one thread at a time (the store's lock) and no code path reads a
/// node property while a mutation of the same property is in progress.
final class BTreeNode<Element: BTreeElement> {
    @exclusivity(unchecked) private(set) var elements: [Element]
    @exclusivity(unchecked) private(set) var separators: [[UInt8]]
    @exclusivity(unchecked) var children: [BTreeNode<Element>]
    let isLeaf: Bool
    /// The first 8 bytes (big-endian, zero-padded) of each element key (leaf) or separator
    /// (inner node), so binary searches compare integers and touch a key's heap buffer only
    /// on a tie. Invariant: parallel to `elements` / `separators`.
    @exclusivity(unchecked) private var prefixes: [UInt64]

    init(leaf elements: [Element]) {
        self.elements = elements
        self.separators = []
        self.children = []
        self.isLeaf = true
        self.prefixes = elements.map { Self.prefix($0.key) }
    }

    init(children: [BTreeNode<Element>], separators: [[UInt8]]) {
        self.elements = []
        self.separators = separators
        self.children = children
        self.isLeaf = false
        self.prefixes = separators.map(Self.prefix)
    }

    /// Order-consistent 8-byte prefix: prefix(a) < prefix(b) implies a < b.
    @inline(__always)
    static func prefix(_ key: [UInt8]) -> UInt64 {
        key.withUnsafeBytes { k in
            var p: UInt64 = 0
            let n = min(8, k.count)
            for i in 0..<n { p |= UInt64(k[i]) << (56 - 8 * UInt64(i)) }
            return p
        }
    }

    // MARK: mutations (keep `prefixes` parallel)

    func setElements(_ new: [Element]) {
        elements = new
        prefixes = new.map { Self.prefix($0.key) }
    }

    func setSeparators(_ new: [[UInt8]]) {
        separators = new
        prefixes = new.map(Self.prefix)
    }

    /// Leaf: drops the elements from `i` on, keeping the first `i` in place (a split: the
    /// caller has copied the upper half to the new right node).
    func truncateElements(to i: Int) {
        prefixes.removeSubrange(i...)
        elements.removeSubrange(i...)
    }

    func insertElement(_ e: Element, at i: Int) {
        prefixes.insert(Self.prefix(e.key), at: i)
        elements.insert(e, at: i)
    }

    func removeElement(at i: Int) -> Element {
        prefixes.remove(at: i)
        return elements.remove(at: i)
    }

    func insertSeparator(_ sep: [UInt8], at i: Int) {
        prefixes.insert(Self.prefix(sep), at: i)
        separators.insert(sep, at: i)
    }

    func removeSeparator(at i: Int) {
        prefixes.remove(at: i)
        separators.remove(at: i)
    }

    func replaceSeparator(at i: Int, with sep: [UInt8]) {
        prefixes[i] = Self.prefix(sep)
        separators[i] = sep
    }

    /// Mutates an element in place; its key must not change.
    @inline(__always)
    func withElement<R>(at i: Int, _ body: (inout Element) throws -> R) rethrows -> R {
        try body(&elements[i])
    }

    /// Child `i` of an inner node.
    @inline(__always)
    func child(at i: Int) -> BTreeNode<Element> {
        children.withUnsafeBufferPointer { $0[i] }
    }

    /// Number of entries (elements or children), the quantity bounded by the fan-out.
    var width: Int { isLeaf ? elements.count : children.count }

    /// The smallest key under this node.
    var firstKey: [UInt8] { isLeaf ? elements[0].key : children[0].firstKey }

    /// Index of the child that may hold `key` (number of separators `<= key`).
    @inline(__always)
    func childIndex(for key: [UInt8]) -> Int {
        let kp = Self.prefix(key)
        return key.withUnsafeBytes { k in
            prefixes.withUnsafeBufferPointer { pre in
                separators.withUnsafeBufferPointer { seps in
                    var lo = 0, hi = seps.count
                    while lo < hi {
                        let mid = (lo + hi) >> 1
                        let c = pre[mid] < kp ? -1 : (pre[mid] > kp ? 1 : seps[mid].withUnsafeBytes { Bytes.compare($0, k) })
                        if c <= 0 { lo = mid + 1 } else { hi = mid }
                    }
                    return lo
                }
            }
        }
    }

    /// First element position whose key is `>= key`, and whether it is equal.
    @inline(__always)
    func elementIndex(for key: [UInt8]) -> (Int, found: Bool) {
        let kp = Self.prefix(key)
        return key.withUnsafeBytes { k in
            prefixes.withUnsafeBufferPointer { pre in
                elements.withUnsafeBufferPointer { elements in
                    var lo = 0, hi = elements.count
                    while lo < hi {
                        let mid = (lo + hi) >> 1
                        let c = pre[mid] < kp ? -1 : (pre[mid] > kp ? 1 : elements[mid].key.withUnsafeBytes { Bytes.compare($0, k) })
                        if c < 0 { lo = mid + 1 } else if c == 0 { return (mid, true) } else { hi = mid }
                    }
                    return (lo, false)
                }
            }
        }
    }

    /// Visits elements from position `first` while their key is below `end` (nil: no
    /// bound) until `body` returns false; returns false when it stopped early (end reached
    /// or `body` said stop). Compares with `end` through the prefix cache, so the keys'
    /// heap buffers are touched only on a prefix tie (scans: one cache miss less per key).
    @inline(__always)
    func visitElements(
        from first: Int, end: [UInt8]?, endPrefix: UInt64, _ body: (Element) throws -> Bool
    ) rethrows -> Bool {
        try prefixes.withUnsafeBufferPointer { pre in
            try elements.withUnsafeBufferPointer { elements in
                var i = first
                while i < elements.count {
                    if let end, pre[i] >= endPrefix {
                        if pre[i] > endPrefix || Bytes.compare(elements[i].key, end) >= 0 { return false }
                    }
                    if try !body(elements[i]) { return false }
                    i += 1
                }
                return true
            }
        }
    }

    /// As `visitElements`, but `body` gets each element in place: a pointer valid only
    /// during the call, so visiting copies no element (no reference counting of its
    /// buffers, whose headers are often cold in scans).
    @inline(__always)
    func visitElementsInPlace(
        from first: Int, end: [UInt8]?, endPrefix: UInt64, _ body: (UnsafePointer<Element>) throws -> Bool
    ) rethrows -> Bool {
        try prefixes.withUnsafeBufferPointer { pre in
            try elements.withUnsafeBufferPointer { elements in
                guard let base = elements.baseAddress else { return true }
                var i = first
                while i < elements.count {
                    if let end, pre[i] >= endPrefix {
                        if pre[i] > endPrefix || Bytes.compare(base[i].key, end) >= 0 { return false }
                    }
                    if try !body(base + i) { return false }
                    i += 1
                }
                return true
            }
        }
    }

    /// Verifies the prefix cache (for the tree checker).
    var prefixesConsistent: Bool {
        isLeaf
            ? prefixes == elements.map { Self.prefix($0.key) }
            : prefixes == separators.map(Self.prefix)
    }
}

/// An in-memory B+tree (elements in leaves, separators in inner nodes) mapping byte-string
/// keys to elements in key order: the per-range MVCC index (user key → `KeyIndex`). It owns
/// its nodes; it is not thread-safe (the owning store serializes access) and never shares
/// nodes with another tree.
final class BTree<Element: BTreeElement> {
    /// Maximum entries per node; nodes below `minWidth` are rebalanced with a neighbour.
    let fanout: Int
    private var minWidth: Int { fanout / 4 }
    private(set) var root: BTreeNode<Element>
    private(set) var count = 0

    init(fanout: Int = 64) {
        precondition(fanout >= 4)
        self.fanout = fanout
        root = BTreeNode(leaf: [])
    }

    /// Builds a tree from elements already sorted by strictly increasing key.
    convenience init(sorted elements: [Element], fanout: Int = 64) {
        self.init(fanout: fanout)
        guard !elements.isEmpty else { return }
        let fill = max(2, fanout * 3 / 4)
        var level: [BTreeNode<Element>] = stride(from: 0, to: elements.count, by: fill).map {
            BTreeNode(leaf: Array(elements[$0..<min($0 + fill, elements.count)]))
        }
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: fill).map { start in
                let kids = Array(level[start..<min(start + fill, level.count)])
                return BTreeNode(children: kids, separators: kids.dropFirst().map(\.firstKey))
            }
        }
        root = level[0]
        count = elements.count
    }

    // MARK: lookup

    func find(_ key: [UInt8]) -> Element? {
        withElement(key) { $0 }
    }

    /// Calls `body` with the element of `key` in place (no copy of the element, no
    /// reference counting on the way down); nil when absent. `body` must not modify the tree.
    @inline(__always)
    func withElement<R>(_ key: [UInt8], _ body: (Element) throws -> R) rethrows -> R? {
        // The tree holds every node strongly and is not modified during the walk.
        unowned(unsafe) var node = root
        while !node.isLeaf { node = node.child(at: node.childIndex(for: key)) }
        let (i, found) = node.elementIndex(for: key)
        guard found else { return nil }
        return try node.elements.withUnsafeBufferPointer { try body($0[i]) }
    }

    /// Mutates the element with `key` in place; nil when absent.
    func modify<R>(_ key: [UInt8], _ body: (inout Element) throws -> R) rethrows -> R? {
        var node = root
        while !node.isLeaf { node = node.children[node.childIndex(for: key)] }
        let (i, found) = node.elementIndex(for: key)
        guard found else { return nil }
        return try node.withElement(at: i, body)
    }

    // MARK: insertion

    /// Mutates the element with `key`, inserting `make()` first when absent.
    func upsert<R>(_ key: [UInt8], make: () -> Element, _ body: (inout Element) throws -> R) rethrows -> R {
        var result: R?
        if let (sep, right) = try insert(into: root, key: key, make: make, body: body, result: &result) {
            root = BTreeNode(children: [root, right], separators: [sep])
        }
        return result!
    }

    private func insert<R>(
        into node: BTreeNode<Element>, key: [UInt8], make: () -> Element,
        body: (inout Element) throws -> R, result: inout R?
    ) rethrows -> ([UInt8], BTreeNode<Element>)? {
        if node.isLeaf {
            let (i, found) = node.elementIndex(for: key)
            if !found {
                node.insertElement(make(), at: i)
                count += 1
            }
            result = try node.withElement(at: i, body)
            guard node.elements.count > fanout else { return nil }
            let mid = node.elements.count / 2
            let right = BTreeNode<Element>(leaf: Array(node.elements[mid...]))
            node.truncateElements(to: mid)
            return (right.elements[0].key, right)
        }
        let ci = node.childIndex(for: key)
        guard let (sep, right) = try insert(into: node.children[ci], key: key, make: make, body: body, result: &result)
        else { return nil }
        node.children.insert(right, at: ci + 1)
        node.insertSeparator(sep, at: ci)
        guard node.children.count > fanout else { return nil }
        let mid = node.children.count / 2
        let newRight = BTreeNode<Element>(
            children: Array(node.children[mid...]), separators: Array(node.separators[mid...]))
        let up = node.separators[mid - 1]
        node.children.removeSubrange(mid...)
        node.setSeparators(Array(node.separators[..<(mid - 1)]))
        return (up, newRight)
    }

    // MARK: removal

    @discardableResult
    func remove(_ key: [UInt8]) -> Element? {
        let removed = remove(from: root, key: key)
        if !root.isLeaf && root.children.count == 1 { root = root.children[0] }
        return removed
    }

    private func remove(from node: BTreeNode<Element>, key: [UInt8]) -> Element? {
        if node.isLeaf {
            let (i, found) = node.elementIndex(for: key)
            guard found else { return nil }
            count -= 1
            return node.removeElement(at: i)
        }
        let ci = node.childIndex(for: key)
        let removed = remove(from: node.children[ci], key: key)
        if removed != nil && node.children[ci].width < minWidth { rebalance(node, child: ci) }
        return removed
    }

    /// Merges an underfull child with a neighbour, or redistributes their entries evenly.
    private func rebalance(_ parent: BTreeNode<Element>, child ci: Int) {
        guard parent.children.count > 1 else { return }
        let li = ci > 0 ? ci - 1 : ci
        let left = parent.children[li], right = parent.children[li + 1]
        if left.isLeaf {
            let all = left.elements + right.elements
            if all.count <= fanout {
                left.setElements(all)
                parent.children.remove(at: li + 1)
                parent.removeSeparator(at: li)
            } else {
                let mid = all.count / 2
                left.setElements(Array(all[..<mid]))
                right.setElements(Array(all[mid...]))
                parent.replaceSeparator(at: li, with: right.elements[0].key)
            }
            return
        }
        let kids = left.children + right.children
        let seps = left.separators + [parent.separators[li]] + right.separators
        if kids.count <= fanout {
            left.children = kids
            left.setSeparators(seps)
            parent.children.remove(at: li + 1)
            parent.removeSeparator(at: li)
        } else {
            let mid = kids.count / 2
            left.children = Array(kids[..<mid])
            left.setSeparators(Array(seps[..<(mid - 1)]))
            right.children = Array(kids[mid...])
            right.setSeparators(Array(seps[mid...]))
            parent.replaceSeparator(at: li, with: seps[mid - 1])
        }
    }

    // MARK: iteration

    /// Visits elements with `start <= key < end` (end nil: unbounded) in key order until
    /// `body` returns false.
    func forEach(from start: [UInt8], to end: [UInt8]?, _ body: (Element) throws -> Bool) rethrows {
        _ = try visit(root, start: start, end: end, body)
    }

    private func visit(
        _ node: BTreeNode<Element>, start: [UInt8], end: [UInt8]?, _ body: (Element) throws -> Bool
    ) rethrows -> Bool {
        if node.isLeaf {
            let (first, _) = node.elementIndex(for: start)
            return try node.visitElements(from: first, end: end, endPrefix: end.map(BTreeNode<Element>.prefix) ?? 0, body)
        }
        var ci = node.childIndex(for: start)
        while ci < node.children.count {
            if ci > 0, let end, Bytes.compare(node.separators[ci - 1], end) >= 0 { return false }
            if try !visit(node.children[ci], start: start, end: end, body) { return false }
            ci += 1
        }
        return true
    }

    /// As `forEach(from:to:)`, with each element in place (see
    /// `BTreeNode.visitElementsInPlace`); `body` must not modify the tree.
    func forEachInPlace(from start: [UInt8], to end: [UInt8]?, _ body: (UnsafePointer<Element>) throws -> Bool) rethrows {
        let endPrefix = end.map(BTreeNode<Element>.prefix) ?? 0
        _ = try visitInPlace(root, start: start, end: end, endPrefix: endPrefix, body)
    }

    private func visitInPlace(
        _ node: BTreeNode<Element>, start: [UInt8], end: [UInt8]?, endPrefix: UInt64,
        _ body: (UnsafePointer<Element>) throws -> Bool
    ) rethrows -> Bool {
        if node.isLeaf {
            let (first, _) = node.elementIndex(for: start)
            return try node.visitElementsInPlace(from: first, end: end, endPrefix: endPrefix, body)
        }
        var ci = node.childIndex(for: start)
        let n = node.children.count
        while ci < n {
            if ci > 0, let end, Bytes.compare(node.separators[ci - 1], end) >= 0 { return false }
            // The tree holds every node strongly and is not modified during the walk.
            unowned(unsafe) let child = node.child(at: ci)
            if try !visitInPlace(child, start: start, end: end, endPrefix: endPrefix, body) { return false }
            ci += 1
        }
        return true
    }

    /// Visits all elements in key order.
    func forEach(_ body: (Element) throws -> Bool) rethrows {
        try forEach(from: [], to: nil, body)
    }

    /// Mutates up to `limit` elements with `key >= start` in key order; returns the key after
    /// the last visited one (nil when the end of the tree was reached). Elements for which
    /// `body` returns true are removed afterwards.
    func mutate(from start: [UInt8], limit: Int, _ body: (inout Element) -> Bool) -> [UInt8]? {
        var toRemove: [[UInt8]] = []
        var visited = 0
        var next: [UInt8]?
        _ = mutateVisit(root, start: start) { e in
            if visited == limit { next = e.key; return false }
            visited += 1
            if body(&e) { toRemove.append(e.key) }
            return true
        }
        for k in toRemove { remove(k) }
        return next
    }

    private func mutateVisit(
        _ node: BTreeNode<Element>, start: [UInt8], _ body: (inout Element) -> Bool
    ) -> Bool {
        if node.isLeaf {
            var (i, _) = node.elementIndex(for: start)
            while i < node.elements.count {
                if !node.withElement(at: i, body) { return false }
                i += 1
            }
            return true
        }
        var ci = node.childIndex(for: start)
        while ci < node.children.count {
            if !mutateVisit(node.children[ci], start: start, body) { return false }
            ci += 1
        }
        return true
    }

    /// All elements in key order.
    func elements() -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(count)
        forEach { out.append($0); return true }
        return out
    }

    // MARK: checking

    /// Verifies ordering, separators, fan-out bounds, uniform depth and the count; returns
    /// a description of the first violation, or nil.
    func checkInvariants() -> String? {
        var seen = 0
        var depth: Int?
        func check(_ n: BTreeNode<Element>, lo: [UInt8]?, hi: [UInt8]?, level: Int, isRoot: Bool) -> String? {
            if n.width > fanout { return "node wider than fanout" }
            if !n.prefixesConsistent { return "prefix cache out of sync" }
            if !isRoot && n.width < 1 { return "empty non-root node" }
            if n.isLeaf {
                if let d = depth, d != level { return "leaves at different depths" }
                depth = level
                for (i, e) in n.elements.enumerated() {
                    if i > 0 && Bytes.compare(n.elements[i - 1].key, e.key) >= 0 { return "leaf keys out of order" }
                    if let lo, Bytes.compare(e.key, lo) < 0 { return "key below separator" }
                    if let hi, Bytes.compare(e.key, hi) >= 0 { return "key above separator" }
                }
                seen += n.elements.count
                return nil
            }
            if n.separators.count != n.children.count - 1 { return "separator count mismatch" }
            for (i, c) in n.children.enumerated() {
                let clo = i == 0 ? lo : n.separators[i - 1]
                let chi = i == n.separators.count ? hi : n.separators[i]
                if let err = check(c, lo: clo, hi: chi, level: level + 1, isRoot: false) { return err }
            }
            return nil
        }
        if let err = check(root, lo: nil, hi: nil, level: 0, isRoot: true) { return err }
        return seen == count ? nil : "count \(count) != \(seen) elements"
    }
}
