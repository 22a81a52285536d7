/// A position in one tree: the path from the root to a leaf entry. Moves with seek / first /
/// last / next / prev; skips empty leaves (which exist only transiently in write
/// transactions). Holds page references, so it must not outlive its transaction.
struct TreeCursor {
    let reader: TreeReader
    let root: TreeRoot
    private var stack: [(ref: TreeRef, index: Int)] = []

    init(reader: TreeReader, root: TreeRoot) {
        self.reader = reader
        self.root = root
        stack.reserveCapacity(8)
    }

    /// Whether the cursor is on an entry.
    var isValid: Bool {
        guard let top = stack.last else { return false }
        return top.ref.isLeaf && top.index >= 0 && top.index < top.ref.count
    }

    /// Positions on the first entry with key ≥ `key`.
    @discardableResult
    mutating func seek(_ key: UnsafeRawBufferPointer) throws -> Bool {
        stack.removeAll(keepingCapacity: true)
        guard var ref = try reader.resolveRoot(root) else { return false }
        while !ref.isLeaf {
            let i = ref.count == 0 ? 0 : ref.childIndex(key)
            stack.append((ref, i))
            guard ref.count > 0 else { throw PageStoreError.corruptPage(0, reason: "empty branch") }
            ref = try reader.resolve(ref.child(i))
        }
        stack.append((ref, ref.lowerBound(key)))
        if stack[stack.count - 1].index >= ref.count { return try next() }
        return true
    }

    /// Positions on the first entry.
    @discardableResult
    mutating func first() throws -> Bool {
        stack.removeAll(keepingCapacity: true)
        guard let ref = try reader.resolveRoot(root) else { return false }
        stack.append((ref, 0))
        return try descend(forward: true)
    }

    /// Positions on the last entry.
    @discardableResult
    mutating func last() throws -> Bool {
        stack.removeAll(keepingCapacity: true)
        guard let ref = try reader.resolveRoot(root) else { return false }
        stack.append((ref, ref.count - 1))
        return try descend(forward: false)
    }

    /// Moves to the next entry; false (and invalid) past the end.
    @discardableResult
    mutating func next() throws -> Bool {
        guard !stack.isEmpty else { return false }
        stack[stack.count - 1].index += 1
        if isValid { return true }
        // Climb to the first ancestor with a next child, then descend leftmost.
        while true {
            stack.removeLast()
            guard !stack.isEmpty else { return false }
            let top = stack.count - 1
            if stack[top].index + 1 < stack[top].ref.count {
                stack[top].index += 1
                let child = try reader.resolve(stack[top].ref.child(stack[top].index))
                stack.append((child, 0))
                if try descend(forward: true) { return true }
                return false
            }
        }
    }

    /// Moves to the previous entry; false (and invalid) before the start.
    @discardableResult
    mutating func prev() throws -> Bool {
        guard !stack.isEmpty else { return false }
        stack[stack.count - 1].index -= 1
        if isValid { return true }
        while true {
            stack.removeLast()
            guard !stack.isEmpty else { return false }
            let top = stack.count - 1
            if stack[top].index - 1 >= 0 {
                stack[top].index -= 1
                let child = try reader.resolve(stack[top].ref.child(stack[top].index))
                stack.append((child, child.count - 1))
                if try descend(forward: false) { return true }
                return false
            }
        }
    }

    /// From the top frame (index already set to its first/last slot), descends to a leaf
    /// entry, skipping empty subtrees in the given direction.
    private mutating func descend(forward: Bool) throws -> Bool {
        while true {
            let top = stack[stack.count - 1]
            if top.ref.isLeaf {
                if top.index >= 0 && top.index < top.ref.count { return true }
                return forward ? try next() : try prev()
            }
            if top.ref.count == 0 { return forward ? try next() : try prev() }
            let child = try reader.resolve(top.ref.child(top.index))
            stack.append((child, forward ? 0 : child.count - 1))
        }
    }

    /// Calls `body` with the current key and value; requires `isValid`.
    @inline(__always)
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) throws -> R {
        let top = stack[stack.count - 1]
        return try top.ref.withEntry(top.index, reader.snapshot, body)
    }

    /// Calls `body` with the current key; requires `isValid`.
    @inline(__always) func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let top = stack[stack.count - 1]
        return try top.ref.withKey(top.index, body)
    }
}

extension TreeReader {
    /// Visits entries with `lo ≤ key < hi` (nil bounds are open) in order, or in reverse
    /// order, until `body` returns false. Returns the number of entries visited.
    @discardableResult
    func scan(_ root: TreeRoot, from lo: UnsafeRawBufferPointer?, to hi: UnsafeRawBufferPointer?, reverse: Bool,
              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
        var c = TreeCursor(reader: self, root: root)
        var visited = 0
        if !reverse {
            var ok = try lo.map { try c.seek($0) } ?? c.first()
            while ok {
                if let hi, c.withKey({ compareBytes($0, hi) }) >= 0 { break }
                visited += 1
                guard try c.withEntry(body) else { break }
                ok = try c.next()
            }
        } else {
            var ok: Bool
            if let hi {
                ok = try c.seek(hi) ? try c.prev() : try c.last()
            } else {
                ok = try c.last()
            }
            while ok {
                if let lo, c.withKey({ compareBytes($0, lo) }) < 0 { break }
                visited += 1
                guard try c.withEntry(body) else { break }
                ok = try c.prev()
            }
        }
        return visited
    }
}
