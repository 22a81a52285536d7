import Synchronization

/// Header of a `DecodedBranch`: the element count and where its parts start in the tail.
struct DecodedBranchHeader {
    /// Number of elements (children).
    var count: Int
    /// Length of the prefix all keys of the page share (stored once, at `sharedWord`).
    var sharedCount: Int
    /// Tail word offsets: prefixes at 0, children at `count`, key offsets at `2 * count`
    /// (u32 pairs packed as one word per key: start, length in the suffix area), suffix
    /// bytes at `suffixWord`, the shared prefix bytes at `sharedWord`.
    var suffixWord: Int
    var sharedWord: Int
    /// The page's children are leaves (known when it was decoded: all children of a B+tree
    /// page are on one level). A lookup then reads the child page directly instead of first
    /// probing the cache slot of a leaf id, which never holds an entry (perf, session 8: that
    /// probe was a cold load, a quarter of a point lookup's own time).
    var childrenAreLeaves: Bool
}

/// A decoded, immutable copy of one committed branch page, laid out for a lookup that
/// touches few cache lines: the 8-byte prefixes of every key's suffix after the prefix all
/// keys share (one contiguous array of words, compared as integers), the child page ids,
/// and the key suffixes (read only on a prefix tie). Owns nothing but its own storage; it
/// holds no pointer into the mapping, so it survives remaps.
///
/// Shared between threads only through `BranchCache`'s atomic slots: every field is written
/// once, in `make`, before the object is published (with release ordering); afterwards it
/// is only read. (`ManagedBuffer` is explicitly not `Sendable`, so it is not declared.)
final class DecodedBranch: ManagedBuffer<DecodedBranchHeader, UInt64> {
    /// Decodes branch page `p` (already validated: checksum and element bounds) whose
    /// children are leaf pages or not (`childrenAreLeaves`; a hint: readers still check each
    /// page's type).
    static func make(_ p: PageRef, childrenAreLeaves: Bool = false) -> DecodedBranch {
        let n = p.count
        var shared = 0
        if n > 1 {
            let a = p.branchKey(0), b = p.branchKey(n - 1)
            let m = min(a.count, b.count)
            while shared < m && a[shared] == b[shared] { shared += 1 }
        } else if n == 1 {
            shared = 0
        }
        var suffixBytes = 0
        for i in 0..<n { suffixBytes += p.branchKey(i).count - shared }
        let suffixWord = 3 * n
        let sharedWord = suffixWord + (suffixBytes + 7) / 8
        let words = sharedWord + (shared + 7) / 8
        let buffer = DecodedBranch.create(minimumCapacity: max(1, words)) { _ in
            DecodedBranchHeader(
                count: n, sharedCount: shared, suffixWord: suffixWord, sharedWord: sharedWord,
                childrenAreLeaves: childrenAreLeaves)
        }
        let d = unsafeDowncast(buffer, to: DecodedBranch.self)
        d.withUnsafeMutablePointerToElements { w in
            w.initialize(repeating: 0, count: max(1, words))
            let raw = UnsafeMutableRawPointer(w)
            var at = 0
            for i in 0..<n {
                let k = p.branchKey(i)
                let suffix = UnsafeRawBufferPointer(rebasing: k[shared...])
                w[i] = prefix8(suffix)
                w[n + i] = p.branchChild(i)
                w[2 * n + i] = UInt64(at) | UInt64(suffix.count) << 32
                if let base = suffix.baseAddress, suffix.count > 0 {
                    (raw + suffixWord * 8 + at).copyMemory(from: base, byteCount: suffix.count)
                }
                at += suffix.count
            }
            if shared > 0, n > 0 {
                (raw + sharedWord * 8).copyMemory(from: p.branchKey(0).baseAddress!, byteCount: shared)
            }
        }
        return d
    }

    /// The first 8 bytes of `k` as a big-endian integer, zero-padded: prefix8(a) <
    /// prefix8(b) implies a < b.
    @inline(__always)
    static func prefix8(_ k: UnsafeRawBufferPointer) -> UInt64 {
        if k.count >= 8 { return UInt64(bigEndian: k.loadUnaligned(as: UInt64.self)) }
        var p: UInt64 = 0
        for i in 0..<k.count { p |= UInt64(k[i]) << (56 - 8 * UInt64(i)) }
        return p
    }

    var childrenAreLeaves: Bool { header.childrenAreLeaves }

    /// The child page whose range holds `key`: as the raw page search, child `i` where `i`
    /// is the number of keys `<= key` minus one (0 when none).
    @inline(__always)
    func child(for key: UnsafeRawBufferPointer) -> PageID {
        withUnsafeMutablePointers { h, w in
            let n = h.pointee.count
            let shared = h.pointee.sharedCount
            let raw = UnsafeRawPointer(w)
            var suffix = key
            if shared > 0 {
                let common = UnsafeRawBufferPointer(start: raw + h.pointee.sharedWord * 8, count: shared)
                let head = UnsafeRawBufferPointer(rebasing: key[..<min(shared, key.count)])
                let c = compareBytes(head, common)
                if c < 0 { return w[n] }  // below every key (also: a proper prefix of them)
                if c > 0 { return w[2 * n - 1] }  // above every key
                suffix = UnsafeRawBufferPointer(rebasing: key[shared...])
            }
            let kp = Self.prefix8(suffix)
            let suffixBase = raw + h.pointee.suffixWord * 8
            // One word of every prefix line first: independent loads, so a cold decoded
            // branch costs one round of memory latency instead of one per probe (perf,
            // session 9: the binary search's probes were serial misses, ~40% of `child`).
            var t: UInt64 = 0
            var i = 0
            while i < n {
                t &+= w[i]
                i += 8
            }
            consumeTouch(t)
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) >> 1
                let p = w[mid]
                var c = p < kp ? -1 : (p > kp ? 1 : 0)
                if c == 0 {
                    let loc = w[2 * n + mid]
                    c = compareBytes(UnsafeRawBufferPointer(start: suffixBase + Int(loc & 0xFFFF_FFFF), count: Int(loc >> 32)), suffix)
                }
                if c <= 0 { lo = mid + 1 } else { hi = mid }
            }
            return w[n + (lo == 0 ? 0 : lo - 1)]
        }
    }
}

/// Decoded branch pages of one mapping, by page id: the read path's branch-page cache.
/// Slot `id` holds a retained `DecodedBranch` of page `id` (0 = none); readers fill slots,
/// the writer empties them.
///
/// Why a slot can never serve stale bytes (page ids are reused, and readers run while the
/// writer commits):
/// 1. A committed page is immutable until its id is reused: copy-on-write never writes a
///    page reachable from a committed meta, and a freed id is reused only after every read
///    transaction whose snapshot could reach it has ended (`Freelist.release(oldestReader:)`;
///    with `deferMetaSync` one commit later still).
/// 2. A reader fills slot `id` only with the bytes its own snapshot reaches through `id`, so
///    an entry always describes the page's contents during one life of the id.
/// 3. Every commit calls `invalidate` for each page it writes (every page of a run) before it
///    publishes its meta. When it does, no open or future reader can reach the id's previous
///    life (1), so no one holds or can insert the old entry: it is released immediately, and
///    any entry inserted later describes the new life.
/// 4. A remap starts a new, empty cache; readers of the old mapping keep theirs (they can
///    only reach pages of snapshots older than the remap, which (1) keeps unchanged).
///
/// Concurrency: slots are atomics; `insert` publishes with release ordering and readers load
/// with acquire ordering, so a reader sees a fully built entry. Readers use entries without
/// retaining them: an entry is released only by `invalidate` (no reader can hold it, by 3)
/// or by `deinit`, which runs after the last reader of the mapping has finished.
///
/// Memory: at most one entry per page id, about one page each; in practice branch pages
/// are ~1-2% of a file's pages. Entries of ids freed and not yet reused stay until reuse.
final class BranchCache: @unchecked Sendable {
    // @unchecked Sendable: `slots` is allocated once and touched only through atomics.
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    let capacity: Int
    /// Entries ever inserted / released by `invalidate` (tests and stats).
    let insertions = Atomic<Int>(0)
    let invalidations = Atomic<Int>(0)

    init(pages: Int) {
        capacity = pages
        slots = .allocate(capacity: max(1, pages))
        for i in 0..<max(1, pages) { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        for i in 0..<capacity {
            let bits = slots[i].load(ordering: .acquiring)
            if bits != 0 { Unmanaged<DecodedBranch>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        }
        slots.deinitialize(count: max(1, capacity))
        slots.deallocate()
    }

    /// The decoded branch of page `id`, unretained (see the type's comment), or nil.
    @inline(__always)
    func branch(_ id: PageID) -> Unmanaged<DecodedBranch>? {
        let i = Int(id)
        guard i < capacity else { return nil }
        let bits = slots[i].load(ordering: .acquiring)
        guard bits != 0 else { return nil }
        return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }

    /// Publishes `d` for page `id` unless another reader did first; returns the entry now in
    /// the slot (unretained).
    func insert(_ id: PageID, _ d: DecodedBranch) -> Unmanaged<DecodedBranch>? {
        let i = Int(id)
        guard i < capacity else { return nil }
        let entry = Unmanaged.passRetained(d)
        let bits = UInt(bitPattern: entry.toOpaque())
        let (won, current) = slots[i].compareExchange(expected: 0, desired: bits, ordering: .acquiringAndReleasing)
        if won {
            insertions.wrappingAdd(1, ordering: .relaxed)
            return entry
        }
        entry.release()
        return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: current)!)
    }

    /// Forgets page `id` (the writer is about to publish new contents for it).
    func invalidate(_ id: PageID) {
        let i = Int(id)
        guard i < capacity else { return }
        let old = slots[i].exchange(0, ordering: .acquiringAndReleasing)
        if old != 0 {
            invalidations.wrappingAdd(1, ordering: .relaxed)
            Unmanaged<DecodedBranch>.fromOpaque(UnsafeRawPointer(bitPattern: old)!).release()
        }
    }

    /// Number of slots holding an entry (tests).
    var entryCount: Int {
        (0..<capacity).reduce(0) { $0 + (slots[$1].load(ordering: .relaxed) != 0 ? 1 : 0) }
    }
}
