/// An element stored in a `BTree`, ordered by its byte-string key.
protocol BTreeElement {
    var key: [UInt8] { get }
}

/// A node of `BTree`. A leaf holds elements; an inner node holds children and separators,
/// `separator(i)` being the smallest key of `child(i + 1)`.
///
/// Storage: the node owns ONE fixed-capacity block (`capacity` = fan-out + 1 entries, from
/// `NodeBlockPool`) laid out as `[header: count, isLeaf][prefixes: capacity × UInt64]
/// [leaf: elements | inner: children, separators, child blocks]` (`BTreeNodeLayout`). An inner
/// node keeps, next to each child, the address of the child's block, so a lookup walks from
/// block to block and never loads a node object: per level it touches the block's header
/// line, its prefix lines (all loaded at once) and the chosen child slot (session 6: no array
/// headers; session 8: no object line, one round of memory latency per cold level fewer).
///
/// `prefixes[i]` is the first 8 bytes (big-endian, zero-padded) of element `i`'s key (leaf)
/// or of separator `i` (inner node), so binary searches compare integers and touch a key's
/// heap buffer only on a tie. A leaf also keeps, after its elements, each key's bytes
/// 8..<16 and length (`KeyWords`; session 9): a lookup's final, equal probe then decides
/// keys of up to 16 bytes without loading the key's heap buffer (a cold line and, on 4 KiB
/// heap pages, a TLB miss per point read).
///
/// Not thread-safe: the owning tree is used by one thread at a time (the store's lock).
/// Invariants: `count <= capacity`; a leaf initialises `elements[0..<count]`, an inner node
/// `children[0..<count]` and `separators[0..<count-1]` (count ≥ 1 for inner nodes); prefixes
/// are parallel to them.
final class BTreeNode<Element: BTreeElement> {
    let isLeaf: Bool
    /// Elements (leaf) or children (inner node); kept in the block's header.
    private(set) var count: Int {
        @inline(__always) get { block.load(as: Int.self) }
        set { block.storeBytes(of: newValue, as: Int.self) }
    }
    let capacity: Int
    let layout: BTreeNodeLayout
    private let block: UnsafeMutableRawPointer
    /// Size of `block` (from `NodeBlockPool`).
    private let blockBytes: Int
    private let prefixes: UnsafeMutablePointer<UInt64>
    /// Leaf: `KeyWords.tail` and `.length` of each element's key. Inner: unused.
    private let tails: UnsafeMutablePointer<UInt64>
    private let lengths: UnsafeMutablePointer<UInt8>
    /// Leaf: elements. Inner: unused (points at the block).
    private let elementBase: UnsafeMutablePointer<Element>
    /// Inner: children, then separators. Leaf: unused.
    private let childBase: UnsafeMutablePointer<BTreeNode<Element>>
    private let separatorBase: UnsafeMutablePointer<[UInt8]>
    /// Inner: the block address of each child (parallel to the children).
    private let childBlockBase: UnsafeMutablePointer<UInt>

    private init(isLeaf: Bool, capacity: Int) {
        self.isLeaf = isLeaf
        self.capacity = capacity
        let layout = BTreeNodeLayout.make(capacity: capacity, element: Element.self)
        self.layout = layout
        let align = 64
        blockBytes = isLeaf ? layout.leafBytes : layout.innerBytes
        let block = NodeBlockPool.shared.allocate(byteCount: blockBytes)
        precondition(Int(bitPattern: block) % align == 0)
        self.block = block
        block.storeBytes(of: 0, as: Int.self)
        block.storeBytes(of: isLeaf ? 1 : 0, toByteOffset: BTreeNodeLayout.isLeafOffset, as: Int.self)
        prefixes = (block + BTreeNodeLayout.prefixOffset).bindMemory(to: UInt64.self, capacity: capacity)
        // Every prefix slot initialised (the lookup's touch loads all of them).
        prefixes.initialize(repeating: 0, count: capacity)
        if isLeaf {
            tails = (block + layout.tailOffset).bindMemory(to: UInt64.self, capacity: capacity)
            tails.initialize(repeating: 0, count: capacity)
            lengths = (block + layout.lengthOffset).bindMemory(to: UInt8.self, capacity: capacity)
            lengths.initialize(repeating: 0, count: capacity)
            elementBase = (block + layout.payloadOffset).bindMemory(to: Element.self, capacity: capacity)
            childBase = (block + layout.payloadOffset).assumingMemoryBound(to: BTreeNode<Element>.self)  // unused
            separatorBase = (block + layout.payloadOffset).assumingMemoryBound(to: [UInt8].self)  // unused
            childBlockBase = (block + layout.payloadOffset).assumingMemoryBound(to: UInt.self)  // unused
        } else {
            tails = (block + BTreeNodeLayout.prefixOffset).assumingMemoryBound(to: UInt64.self)  // unused
            lengths = (block + BTreeNodeLayout.prefixOffset).assumingMemoryBound(to: UInt8.self)  // unused
            elementBase = (block + layout.payloadOffset).assumingMemoryBound(to: Element.self)  // unused
            childBase = (block + layout.payloadOffset).bindMemory(to: BTreeNode<Element>.self, capacity: capacity)
            separatorBase = (block + layout.separatorOffset).bindMemory(to: [UInt8].self, capacity: capacity)
            childBlockBase = (block + layout.childBlockOffset).bindMemory(to: UInt.self, capacity: capacity)
        }
    }

    /// The node's block (see `BTreeNodeLayout`), for block-to-block lookups.
    @inline(__always) var blockAddress: UnsafeRawPointer { UnsafeRawPointer(block) }

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
        NodeBlockPool.shared.release(block, byteCount: blockBytes)
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
            setKeyWords(i, e.key)
            i += 1
        }
        count = i
    }

    func insertElement(_ e: Element, at i: Int) {
        precondition(isLeaf)
        Self.insertElement(block: block, layout, e, words: KeyWords(e.key), at: i)
    }

    /// Inserts `e` (whose key has `words`) at position `i` of leaf block `b`: the block-level
    /// form of `insertElement(_:at:)`, for an insert that found its leaf without the node object.
    @inline(__always)
    static func insertElement(block b: UnsafeMutableRawPointer, _ layout: BTreeNodeLayout, _ e: Element, words: KeyWords, at i: Int) {
        let n = b.load(as: Int.self)
        precondition(blockIsLeaf(b) && n < layout.capacity && i <= n)
        let prefixes = (b + BTreeNodeLayout.prefixOffset).assumingMemoryBound(to: UInt64.self)
        let tails = (b + layout.tailOffset).assumingMemoryBound(to: UInt64.self)
        let lengths = (b + layout.lengthOffset).assumingMemoryBound(to: UInt8.self)
        let elements = (b + layout.payloadOffset).assumingMemoryBound(to: Element.self)
        (elements + i + 1).moveInitialize(from: elements + i, count: n - i)
        (prefixes + i + 1).update(from: prefixes + i, count: n - i)
        (tails + i + 1).update(from: tails + i, count: n - i)
        (lengths + i + 1).update(from: lengths + i, count: n - i)
        (elements + i).initialize(to: e)
        prefixes[i] = words.prefix
        tails[i] = words.tail
        lengths[i] = words.length
        b.storeBytes(of: n + 1, as: Int.self)
    }

    func removeElement(at i: Int) -> Element {
        precondition(isLeaf && i < count)
        let e = (elementBase + i).move()
        (elementBase + i).moveInitialize(from: elementBase + i + 1, count: count - i - 1)
        (prefixes + i).update(from: prefixes + i + 1, count: count - i - 1)
        (tails + i).update(from: tails + i + 1, count: count - i - 1)
        (lengths + i).update(from: lengths + i + 1, count: count - i - 1)
        count -= 1
        return e
    }

    /// Leaf: the key words of element `i` (its prefix, tail and length slots).
    @inline(__always)
    private func setKeyWords(_ i: Int, _ key: [UInt8]) {
        let w = KeyWords(key)
        prefixes[i] = w.prefix
        tails[i] = w.tail
        lengths[i] = w.length
    }

    /// Removes elements `from...` (moves them into the returned array: no copy, so no
    /// retain of each moved element's buffers and release of the originals).
    func removeElements(from i: Int) -> [Element] {
        let n = count
        precondition(isLeaf && i <= n)
        let moved = [Element](unsafeUninitializedCapacity: n - i) { buffer, initialized in
            if n > i { buffer.baseAddress!.moveInitialize(from: elementBase + i, count: n - i) }
            initialized = n - i
        }
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
        for c in kids {
            (childBase + i).initialize(to: c)
            childBlockBase[i] = UInt(bitPattern: c.blockAddress)
            i += 1
        }
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
        (childBlockBase + i + 2).update(from: childBlockBase + i + 1, count: count - i - 1)
        childBlockBase[i + 1] = UInt(bitPattern: child.blockAddress)
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
        (childBlockBase + i + 1).update(from: childBlockBase + i + 2, count: count - i - 2)
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
        Self.childIndex(block: blockAddress, layout, key, Self.prefix(key))
    }

    /// First element position whose key is `>= key`, and whether it is equal.
    @inline(__always)
    func elementIndex(for key: [UInt8]) -> (Int, found: Bool) {
        Self.elementIndex(block: blockAddress, layout, key, KeyWords(key))
    }

    // MARK: block-level search (no node object involved)

    /// Loads one word of the header line and of every prefix line of block `b` before a
    /// binary search over them: the loads are independent of each other and of the entry
    /// count, so a cold block's lines arrive in one round of memory latency instead of one
    /// round per probe (perf, session 8: the probes of the leaf and last inner level were
    /// serial cache misses, a third of the index walk).
    @inline(__always)
    static func touch(block b: UnsafeRawPointer, _ layout: BTreeNodeLayout) {
        var t: UInt64 = 0
        var offset = BTreeNodeLayout.prefixOffset
        let end = BTreeNodeLayout.prefixOffset + layout.capacity * 8
        while offset < end {
            t &+= b.load(fromByteOffset: offset, as: UInt64.self)
            offset += 64
        }
        // A use of the sum the optimiser cannot remove, in a branch that is never taken.
        if t == 0x9E37_79B9_7F4A_7C15 { touchSink(t) }
    }

    /// Whether block `b` is a leaf's.
    @inline(__always)
    static func blockIsLeaf(_ b: UnsafeRawPointer) -> Bool {
        b.load(fromByteOffset: BTreeNodeLayout.isLeafOffset, as: Int.self) != 0
    }

    /// The block of child `i` of inner block `b`.
    @inline(__always)
    static func childBlock(_ b: UnsafeRawPointer, _ layout: BTreeNodeLayout, _ i: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(bitPattern: b.load(fromByteOffset: layout.childBlockOffset + i * MemoryLayout<UInt>.stride, as: UInt.self))!
    }

    /// The entry count kept in block `b`'s header.
    @inline(__always)
    static func blockCount(_ b: UnsafeRawPointer) -> Int { b.load(as: Int.self) }

    /// Element `i` of leaf block `b`, in place, for a change that keeps its key.
    @inline(__always)
    static func mutableElementInBlock(_ b: UnsafeMutableRawPointer, _ layout: BTreeNodeLayout, _ i: Int) -> UnsafeMutablePointer<Element> {
        (b + layout.payloadOffset).assumingMemoryBound(to: Element.self) + i
    }

    /// Element `i` of leaf block `b`, in place.
    @inline(__always)
    static func elementInBlock(_ b: UnsafeRawPointer, _ layout: BTreeNodeLayout, _ i: Int) -> UnsafePointer<Element> {
        (b + layout.payloadOffset).assumingMemoryBound(to: Element.self) + i
    }

    /// `childIndex(for:)` on inner block `b`; `kp` is `prefix(key)`.
    @inline(__always)
    static func childIndex(block b: UnsafeRawPointer, _ layout: BTreeNodeLayout, _ key: [UInt8], _ kp: UInt64) -> Int {
        touch(block: b, layout)
        let n = b.load(as: Int.self)
        let prefixes = (b + BTreeNodeLayout.prefixOffset).assumingMemoryBound(to: UInt64.self)
        let separators = (b + layout.separatorOffset).assumingMemoryBound(to: [UInt8].self)
        return key.withUnsafeBytes { k in
            var lo = 0, hi = n - 1
            while lo < hi {
                let mid = (lo + hi) >> 1
                let p = prefixes[mid]
                let c = p < kp ? -1 : (p > kp ? 1 : separators[mid].withUnsafeBytes { Bytes.compare($0, k) })
                if c <= 0 { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    /// `elementIndex(for:)` on leaf block `b`; `kw` is `KeyWords(key)`. On a prefix tie the
    /// key's tail and length decide, and only keys longer than 16 bytes that tie on both
    /// load the element's key buffer.
    @inline(__always)
    static func elementIndex(block b: UnsafeRawPointer, _ layout: BTreeNodeLayout, _ key: [UInt8], _ kw: KeyWords) -> (Int, found: Bool) {
        touch(block: b, layout)
        let n = b.load(as: Int.self)
        let prefixes = (b + BTreeNodeLayout.prefixOffset).assumingMemoryBound(to: UInt64.self)
        let tails = (b + layout.tailOffset).assumingMemoryBound(to: UInt64.self)
        let lengths = (b + layout.lengthOffset).assumingMemoryBound(to: UInt8.self)
        let elements = (b + layout.payloadOffset).assumingMemoryBound(to: Element.self)
        let kp = kw.prefix
        return key.withUnsafeBytes { k in
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) >> 1
                let p = prefixes[mid]
                let c = p < kp ? -1 : (p > kp ? 1 : kw.compareTail(tails[mid], lengths[mid])
                    ?? elements[mid].key.withUnsafeBytes { Bytes.compare($0, k) })
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

    /// Verifies the prefix words and, in a leaf, the key words (for the tree checker).
    var prefixesConsistent: Bool {
        if isLeaf {
            return (0..<count).allSatisfy {
                KeyWords(elementBase[$0].key) == KeyWords(prefix: prefixes[$0], tail: tails[$0], length: lengths[$0])
            }
        }
        return (0..<max(0, count - 1)).allSatisfy { prefixes[$0] == Self.prefix(separatorBase[$0]) }
    }
}

/// Byte offsets inside a `BTreeNode`'s block (one layout per capacity and element type):
/// a 64-byte header line (count at 0, isLeaf at 8), the prefix words from byte 64, then the
/// payload from the next line boundary (leaf: elements, then the key tails and lengths;
/// inner: children, separators, child block addresses).
struct BTreeNodeLayout: Sendable {
    static let isLeafOffset = 8
    static let prefixOffset = 64
    let capacity: Int
    let payloadOffset: Int
    let separatorOffset: Int
    let childBlockOffset: Int
    /// Leaf: `KeyWords.tail` per element (UInt64), then `.length` per element (UInt8).
    let tailOffset: Int
    let lengthOffset: Int
    let leafBytes: Int
    let innerBytes: Int

    static func make<E>(capacity: Int, element: E.Type) -> BTreeNodeLayout {
        func up(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        // Payload on a line boundary: a 64-byte element (`KeyIndex`) then fills exactly one
        // line of the (line-aligned) block instead of straddling two.
        let payload = (prefixOffset + capacity * 8 + 63) / 64 * 64
        let separators = up(payload + capacity * MemoryLayout<AnyObject>.stride)
        let childBlocks = up(separators + capacity * MemoryLayout<[UInt8]>.stride)
        let tails = up(payload + capacity * MemoryLayout<E>.stride)
        let lengths = tails + capacity * 8
        return BTreeNodeLayout(
            capacity: capacity, payloadOffset: payload, separatorOffset: separators, childBlockOffset: childBlocks,
            tailOffset: tails, lengthOffset: lengths,
            leafBytes: lengths + capacity,
            innerBytes: childBlocks + capacity * MemoryLayout<UInt>.stride)
    }
}

/// Consumes a value so that the loads producing it are kept (see `BTreeNode.touch(block:_:)`).
@inline(never)
func touchSink(_ value: UInt64) {
    withExtendedLifetime(value) {}
}
