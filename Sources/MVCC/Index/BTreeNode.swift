/// An element stored in a `BTree`, ordered by its byte-string key.
protocol BTreeElement {
    var key: [UInt8] { get }
}

/// A node of `BTree`. A leaf holds elements; an inner node holds children and separators,
/// `separator(i)` being the smallest key of `child(i + 1)`.
///
/// Storage: the node owns ONE fixed-capacity block (`capacity` = fan-out + 1 entries) laid
/// out as `[prefixes: capacity × UInt64][leaf: elements | inner: children, separators]`, and
/// keeps the entry count in the object itself. A lookup therefore touches the node object,
/// the prefix words it probes and the chosen child slot — no array headers (session 6
/// profile: the `count` loads of the separate element / separator arrays were a cache miss
/// per level, a quarter of the index walk).
///
/// `prefixes[i]` is the first 8 bytes (big-endian, zero-padded) of element `i`'s key (leaf)
/// or of separator `i` (inner node), so binary searches compare integers and touch a key's
/// heap buffer only on a tie.
///
/// Not thread-safe: the owning tree is used by one thread at a time (the store's lock).
/// Invariants: `count <= capacity`; a leaf initialises `elements[0..<count]`, an inner node
/// `children[0..<count]` and `separators[0..<count-1]` (count ≥ 1 for inner nodes); prefixes
/// are parallel to them.
final class BTreeNode<Element: BTreeElement> {
    let isLeaf: Bool
    /// Elements (leaf) or children (inner node).
    private(set) var count: Int
    let capacity: Int
    private let block: UnsafeMutableRawPointer
    private let prefixes: UnsafeMutablePointer<UInt64>
    /// Leaf: elements. Inner: unused (points at the block).
    private let elementBase: UnsafeMutablePointer<Element>
    /// Inner: children, then separators. Leaf: unused.
    private let childBase: UnsafeMutablePointer<BTreeNode<Element>>
    private let separatorBase: UnsafeMutablePointer<[UInt8]>

    private init(isLeaf: Bool, capacity: Int) {
        self.isLeaf = isLeaf
        self.capacity = capacity
        self.count = 0
        let prefixBytes = capacity * MemoryLayout<UInt64>.stride
        let align = max(MemoryLayout<UInt64>.alignment, MemoryLayout<Element>.alignment,
                        MemoryLayout<BTreeNode<Element>>.alignment, MemoryLayout<[UInt8]>.alignment)
        let entries = (prefixBytes + align - 1) / align * align
        let childBytes = capacity * MemoryLayout<BTreeNode<Element>>.stride
        let payload = isLeaf
            ? capacity * MemoryLayout<Element>.stride
            : childBytes + capacity * MemoryLayout<[UInt8]>.stride
        let block = UnsafeMutableRawPointer.allocate(byteCount: entries + payload, alignment: align)
        self.block = block
        prefixes = block.bindMemory(to: UInt64.self, capacity: capacity)
        if isLeaf {
            elementBase = (block + entries).bindMemory(to: Element.self, capacity: capacity)
            childBase = block.assumingMemoryBound(to: BTreeNode<Element>.self)  // unused
            separatorBase = block.assumingMemoryBound(to: [UInt8].self)  // unused
        } else {
            elementBase = block.assumingMemoryBound(to: Element.self)  // unused
            childBase = (block + entries).bindMemory(to: BTreeNode<Element>.self, capacity: capacity)
            separatorBase = (block + entries + childBytes).bindMemory(to: [UInt8].self, capacity: capacity)
        }
    }

    convenience init<C: Collection>(leaf elements: C, capacity: Int) where C.Element == Element {
        precondition(elements.count <= capacity)
        self.init(isLeaf: true, capacity: capacity)
        setElements(elements)
    }

    convenience init<C: Collection, S: Collection>(children: C, separators: S, capacity: Int)
    where C.Element == BTreeNode<Element>, S.Element == [UInt8] {
        precondition(children.count <= capacity && separators.count == children.count - 1)
        self.init(isLeaf: false, capacity: capacity)
        setChildren(children, separators: separators)
    }

    deinit {
        if isLeaf {
            elementBase.deinitialize(count: count)
        } else {
            childBase.deinitialize(count: count)
            separatorBase.deinitialize(count: max(0, count - 1))
        }
        block.deallocate()
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

    // MARK: leaf access

    /// Element `i` in place (valid until the next mutation of this node).
    @inline(__always) func elementPointer(_ i: Int) -> UnsafeMutablePointer<Element> { elementBase + i }
    @inline(__always) func element(_ i: Int) -> Element { elementBase[i] }
    /// Copies of elements `range`.
    func elements(_ range: Range<Int>) -> [Element] { Array(UnsafeBufferPointer(start: elementBase + range.lowerBound, count: range.count)) }
    var allElements: [Element] { elements(0..<count) }

    /// Replaces all elements.
    func setElements<C: Collection>(_ new: C) where C.Element == Element {
        precondition(isLeaf && new.count <= capacity)
        elementBase.deinitialize(count: count)
        var i = 0
        for e in new {
            (elementBase + i).initialize(to: e)
            prefixes[i] = Self.prefix(e.key)
            i += 1
        }
        count = i
    }

    func insertElement(_ e: Element, at i: Int) {
        precondition(isLeaf && count < capacity && i <= count)
        (elementBase + i + 1).moveInitialize(from: elementBase + i, count: count - i)
        (prefixes + i + 1).update(from: prefixes + i, count: count - i)
        (elementBase + i).initialize(to: e)
        prefixes[i] = Self.prefix(e.key)
        count += 1
    }

    func removeElement(at i: Int) -> Element {
        precondition(isLeaf && i < count)
        let e = (elementBase + i).move()
        (elementBase + i).moveInitialize(from: elementBase + i + 1, count: count - i - 1)
        (prefixes + i).update(from: prefixes + i + 1, count: count - i - 1)
        count -= 1
        return e
    }

    /// Removes elements `from...` (moves them into the returned array).
    func removeElements(from i: Int) -> [Element] {
        precondition(isLeaf && i <= count)
        let moved = Array(UnsafeBufferPointer(start: elementBase + i, count: count - i))
        (elementBase + i).deinitialize(count: count - i)
        count = i
        return moved
    }

    /// Mutates an element in place; its key must not change.
    @inline(__always)
    func withElement<R>(at i: Int, _ body: (inout Element) throws -> R) rethrows -> R {
        try body(&elementBase[i])
    }

    // MARK: inner access

    /// Child `i` of an inner node.
    @inline(__always) func child(at i: Int) -> BTreeNode<Element> { childBase[i] }

    /// Child `i` without reference counting: the caller must keep the tree unmodified and
    /// alive while it uses the result (the tree holds every node strongly).
    @inline(__always) func unretainedChild(at i: Int) -> Unmanaged<BTreeNode<Element>> {
        UnsafeRawPointer(childBase + i).load(as: Unmanaged<BTreeNode<Element>>.self)
    }

    @inline(__always) func separator(_ i: Int) -> [UInt8] { separatorBase[i] }
    func children(_ range: Range<Int>) -> [BTreeNode<Element>] { Array(UnsafeBufferPointer(start: childBase + range.lowerBound, count: range.count)) }
    func separators(_ range: Range<Int>) -> [[UInt8]] { Array(UnsafeBufferPointer(start: separatorBase + range.lowerBound, count: range.count)) }
    var allChildren: [BTreeNode<Element>] { children(0..<count) }
    var allSeparators: [[UInt8]] { separators(0..<max(0, count - 1)) }

    /// Replaces all children and separators (`separators.count == children.count - 1`).
    func setChildren<C: Collection, S: Collection>(_ kids: C, separators seps: S)
    where C.Element == BTreeNode<Element>, S.Element == [UInt8] {
        precondition(!isLeaf && kids.count <= capacity && seps.count == kids.count - 1)
        childBase.deinitialize(count: count)
        separatorBase.deinitialize(count: max(0, count - 1))
        var i = 0
        for c in kids { (childBase + i).initialize(to: c); i += 1 }
        count = i
        i = 0
        for s in seps {
            (separatorBase + i).initialize(to: s)
            prefixes[i] = Self.prefix(s)
            i += 1
        }
    }

    /// Inserts `child` at position `i + 1` with `separator` (its smallest key) at `i`.
    func insertChild(_ child: BTreeNode<Element>, after i: Int, separator: [UInt8]) {
        precondition(!isLeaf && count < capacity && i < count)
        let seps = count - 1
        (childBase + i + 2).moveInitialize(from: childBase + i + 1, count: count - i - 1)
        (childBase + i + 1).initialize(to: child)
        (separatorBase + i + 1).moveInitialize(from: separatorBase + i, count: seps - i)
        (prefixes + i + 1).update(from: prefixes + i, count: seps - i)
        (separatorBase + i).initialize(to: separator)
        prefixes[i] = Self.prefix(separator)
        count += 1
    }

    /// Removes child `i + 1` and separator `i`.
    func removeChild(after i: Int) {
        precondition(!isLeaf && i + 1 < count)
        let seps = count - 1
        (childBase + i + 1).deinitialize(count: 1)
        (childBase + i + 1).moveInitialize(from: childBase + i + 2, count: count - i - 2)
        (separatorBase + i).deinitialize(count: 1)
        (separatorBase + i).moveInitialize(from: separatorBase + i + 1, count: seps - i - 1)
        (prefixes + i).update(from: prefixes + i + 1, count: seps - i - 1)
        count -= 1
    }

    func replaceSeparator(at i: Int, with sep: [UInt8]) {
        precondition(!isLeaf && i < count - 1)
        separatorBase[i] = sep
        prefixes[i] = Self.prefix(sep)
    }

    /// Number of entries (elements or children), the quantity bounded by the fan-out.
    var width: Int { count }

    /// The smallest key under this node.
    var firstKey: [UInt8] { isLeaf ? elementBase[0].key : childBase[0].firstKey }

    // MARK: search

    /// Index of the child that may hold `key` (number of separators `<= key`).
    @inline(__always)
    func childIndex(for key: [UInt8]) -> Int {
        let kp = Self.prefix(key)
        return key.withUnsafeBytes { k in
            var lo = 0, hi = count - 1
            while lo < hi {
                let mid = (lo + hi) >> 1
                let p = prefixes[mid]
                let c = p < kp ? -1 : (p > kp ? 1 : separatorBase[mid].withUnsafeBytes { Bytes.compare($0, k) })
                if c <= 0 { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    /// First element position whose key is `>= key`, and whether it is equal.
    @inline(__always)
    func elementIndex(for key: [UInt8]) -> (Int, found: Bool) {
        let kp = Self.prefix(key)
        return key.withUnsafeBytes { k in
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) >> 1
                let p = prefixes[mid]
                let c = p < kp ? -1 : (p > kp ? 1 : elementBase[mid].key.withUnsafeBytes { Bytes.compare($0, k) })
                if c < 0 { lo = mid + 1 } else if c == 0 { return (mid, true) } else { hi = mid }
            }
            return (lo, false)
        }
    }

    /// Visits elements from position `first` while their key is below `end` (nil: no
    /// bound) until `body` returns false; returns false when it stopped early (end reached
    /// or `body` said stop). `body` gets each element in place: a pointer valid only during
    /// the call. Compares with `end` through the prefix words, so the keys' heap buffers are
    /// touched only on a prefix tie (scans: one cache miss less per key).
    @inline(__always)
    func visitElementsInPlace(
        from first: Int, end: [UInt8]?, endPrefix: UInt64, _ body: (UnsafePointer<Element>) throws -> Bool
    ) rethrows -> Bool {
        var i = first
        while i < count {
            if let end, prefixes[i] >= endPrefix {
                if prefixes[i] > endPrefix || Bytes.compare(elementBase[i].key, end) >= 0 { return false }
            }
            if try !body(elementBase + i) { return false }
            i += 1
        }
        return true
    }

    /// Verifies the prefix words (for the tree checker).
    var prefixesConsistent: Bool {
        if isLeaf { return (0..<count).allSatisfy { prefixes[$0] == Self.prefix(elementBase[$0].key) } }
        return (0..<max(0, count - 1)).allSatisfy { prefixes[$0] == Self.prefix(separatorBase[$0]) }
    }
}
