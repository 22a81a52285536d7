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
        root = BTreeNode(leaf: [], capacity: fanout + 1)
    }

    /// Builds a tree from elements already sorted by strictly increasing key.
    convenience init(sorted elements: [Element], fanout: Int = 64) {
        self.init(fanout: fanout)
        guard !elements.isEmpty else { return }
        let fill = max(2, fanout * 3 / 4)
        let capacity = fanout + 1
        var level: [BTreeNode<Element>] = stride(from: 0, to: elements.count, by: fill).map {
            BTreeNode(leaf: elements[$0..<min($0 + fill, elements.count)], capacity: capacity)
        }
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: fill).map { start in
                let kids = level[start..<min(start + fill, level.count)]
                return BTreeNode(children: kids, separators: kids.dropFirst().map(\.firstKey), capacity: capacity)
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
        // From block to block (see `BTreeNode`): the tree holds every node, so every block,
        // and is not modified during the walk; no node object is loaded on the way down.
        let layout = root.layout
        let kw = KeyWords(key)
        var b = root.blockAddress
        while !BTreeNode<Element>.blockIsLeaf(b) {
            b = BTreeNode<Element>.childBlock(b, layout, BTreeNode<Element>.childIndex(block: b, layout, key, kw.prefix))
        }
        let (i, found) = BTreeNode<Element>.elementIndex(block: b, layout, key, kw)
        guard found else { return nil }
        return try body(BTreeNode<Element>.elementInBlock(b, layout, i).pointee)
    }

    /// Mutates the element with `key` in place; nil when absent.
    func modify<R>(_ key: [UInt8], _ body: (inout Element) throws -> R) rethrows -> R? {
        var node = root
        while !node.isLeaf { node = node.child(at: node.childIndex(for: key)) }
        let (i, found) = node.elementIndex(for: key)
        guard found else { return nil }
        return try node.withElement(at: i, body)
    }

    // MARK: insertion

    /// Mutates the element with `key`, inserting `make()` first when absent.
    ///
    /// Fast path (session 10): walk block to block as `withElement` does — no node object is
    /// loaded or retained on the way down (perf: retaining and releasing each level's cold
    /// node object was a third of a put's index time) — and, when the key exists or its leaf
    /// has room, change the leaf block in place. Only an insert into a full leaf takes the
    /// recursive path, which splits.
    func upsert<R>(_ key: [UInt8], make: () -> Element, _ body: (inout Element) throws -> R) rethrows -> R {
        let layout = root.layout
        let kw = KeyWords(key)
        var b = root.blockAddress
        while !BTreeNode<Element>.blockIsLeaf(b) {
            b = BTreeNode<Element>.childBlock(b, layout, BTreeNode<Element>.childIndex(block: b, layout, key, kw.prefix))
        }
        let (i, found) = BTreeNode<Element>.elementIndex(block: b, layout, key, kw)
        let leaf = UnsafeMutableRawPointer(mutating: b)
        if found {
            return try body(&BTreeNode<Element>.mutableElementInBlock(leaf, layout, i).pointee)
        }
        if BTreeNode<Element>.blockCount(b) < fanout {
            BTreeNode<Element>.insertElement(block: leaf, layout, make(), words: kw, at: i)
            count += 1
            return try body(&BTreeNode<Element>.mutableElementInBlock(leaf, layout, i).pointee)
        }
        return try upsertSplitting(key, make: make, body)
    }

    /// `upsert` through node objects, splitting full nodes on the way back up.
    private func upsertSplitting<R>(_ key: [UInt8], make: () -> Element, _ body: (inout Element) throws -> R) rethrows -> R {
        var result: R?
        if let (sep, right) = try insert(into: root, key: key, make: make, body: body, result: &result) {
            root = BTreeNode(children: [root, right], separators: [sep], capacity: fanout + 1)
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
            guard node.count > fanout else { return nil }
            let right = BTreeNode<Element>(leaf: node.removeElements(from: node.count / 2), capacity: fanout + 1)
            return (right.element(0).key, right)
        }
        let ci = node.childIndex(for: key)
        guard let (sep, right) = try insert(into: node.child(at: ci), key: key, make: make, body: body, result: &result)
        else { return nil }
        node.insertChild(right, after: ci, separator: sep)
        guard node.count > fanout else { return nil }
        let n = node.count
        let mid = n / 2
        let newRight = BTreeNode<Element>(
            children: node.children(mid..<n), separators: node.separators(mid..<(n - 1)), capacity: fanout + 1)
        let up = node.separator(mid - 1)
        node.setChildren(node.children(0..<mid), separators: node.separators(0..<(mid - 1)))
        return (up, newRight)
    }

    // MARK: removal

    @discardableResult
    func remove(_ key: [UInt8]) -> Element? {
        let removed = remove(from: root, key: key)
        if !root.isLeaf && root.count == 1 { root = root.child(at: 0) }
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
        let removed = remove(from: node.child(at: ci), key: key)
        if removed != nil && node.child(at: ci).width < minWidth { rebalance(node, child: ci) }
        return removed
    }

    /// Merges an underfull child with a neighbour, or redistributes their entries evenly.
    private func rebalance(_ parent: BTreeNode<Element>, child ci: Int) {
        guard parent.count > 1 else { return }
        let li = ci > 0 ? ci - 1 : ci
        let left = parent.child(at: li), right = parent.child(at: li + 1)
        if left.isLeaf {
            let all = left.allElements + right.allElements
            if all.count <= fanout {
                left.setElements(all)
                parent.removeChild(after: li)
            } else {
                let mid = all.count / 2
                left.setElements(all[..<mid])
                right.setElements(all[mid...])
                parent.replaceSeparator(at: li, with: right.element(0).key)
            }
            return
        }
        let kids = left.allChildren + right.allChildren
        let seps = left.allSeparators + [parent.separator(li)] + right.allSeparators
        if kids.count <= fanout {
            left.setChildren(kids, separators: seps)
            parent.removeChild(after: li)
        } else {
            let mid = kids.count / 2
            left.setChildren(kids[..<mid], separators: seps[..<(mid - 1)])
            right.setChildren(kids[mid...], separators: seps[mid...])
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
            return try node.visitElementsInPlace(
                from: first, end: end, endPrefix: end.map(BTreeNode<Element>.prefix) ?? 0, { try body($0.pointee) })
        }
        var ci = node.childIndex(for: start)
        while ci < node.count {
            if ci > 0, let end, Bytes.compare(node.separator(ci - 1), end) >= 0 { return false }
            if try !visit(node.child(at: ci), start: start, end: end, body) { return false }
            ci += 1
        }
        return true
    }

    /// As `forEach(from:to:)`, with each element in place (see
    /// `BTreeNode.visitElementsInPlace`); `body` must not modify the tree. The pointers stay
    /// valid until the tree is next modified (elements live in their node's fixed block).
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
        let n = node.count
        while ci < n {
            if ci > 0, let end, Bytes.compare(node.separator(ci - 1), end) >= 0 { return false }
            // The tree holds every node strongly and is not modified during the walk.
            let visited = try node.unretainedChild(at: ci)._withUnsafeGuaranteedRef { child in
                try visitInPlace(child, start: start, end: end, endPrefix: endPrefix, body)
            }
            if !visited { return false }
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
            while i < node.count {
                if !node.withElement(at: i, body) { return false }
                i += 1
            }
            return true
        }
        var ci = node.childIndex(for: start)
        while ci < node.count {
            if !mutateVisit(node.child(at: ci), start: start, body) { return false }
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
                let elements = n.allElements
                for (i, e) in elements.enumerated() {
                    if i > 0 && Bytes.compare(elements[i - 1].key, e.key) >= 0 { return "leaf keys out of order" }
                    if let lo, Bytes.compare(e.key, lo) < 0 { return "key below separator" }
                    if let hi, Bytes.compare(e.key, hi) >= 0 { return "key above separator" }
                }
                seen += n.count
                return nil
            }
            if n.count < 1 { return "inner node without children" }
            let separators = n.allSeparators
            for (i, c) in n.allChildren.enumerated() {
                let clo = i == 0 ? lo : separators[i - 1]
                let chi = i == separators.count ? hi : separators[i]
                if let err = check(c, lo: clo, hi: chi, level: level + 1, isRoot: false) { return err }
            }
            return nil
        }
        if let err = check(root, lo: nil, hi: nil, level: 0, isRoot: true) { return err }
        return seen == count ? nil : "count \(count) != \(seen) elements"
    }
}
