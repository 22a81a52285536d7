#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The memory of every index node's block (`BTreeNode`'s prefixes and elements / children):
/// fixed-size blocks carved from 2 MiB chunks that the kernel is asked to back with
/// transparent huge pages (`MADV_HUGEPAGE`; the machine's THP mode is usually `madvise`).
/// A random point read walks cold index leaves spread over hundreds of megabytes; with 4 KiB
/// pages nearly every leaf costs a TLB miss and a page walk on top of its cache misses
/// (session 8: glibc's `hugetlb` tunable alone gave the point-read bench +23%).
///
/// Blocks are cache-line aligned (a node's prefix words then fill whole lines). Freed blocks
/// go to a free list per block size (linked through their first word) and are reused for the
/// next block of that size; chunks are never returned to the system (like malloc's arenas,
/// the memory is kept for the next index). Owns the chunks and the free lists; thread-safe
/// (one mutex, taken only when a node is created or destroyed, never on lookups).
final class NodeBlockPool: Sendable {
    /// The pool of every index in the process.
    static let shared = NodeBlockPool()

    static let chunkBytes = 2 << 20
    static let lineBytes = 64
    /// Blocks above this size come from malloc (huge fan-outs in tests).
    static let maxPooledBytes = 64 << 10

    private struct State: ~Copyable {
        /// Next free byte of the current chunk and its end (addresses; 0: none).
        var cursor: UInt = 0
        var end: UInt = 0
        /// Free-list heads by block size (a short list: one size per node kind and fan-out).
        var free: [(bytes: Int, head: UInt)] = []
        var chunks = 0
    }

    private let state = Mutex(State())

    /// A block of at least `byteCount` bytes, 64-byte aligned; release it with `release`
    /// and the same `byteCount`.
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let bytes = Self.rounded(byteCount)
        if bytes > Self.maxPooledBytes {
            return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.lineBytes)
        }
        let address = state.withLock { s -> UInt in
            if let i = s.free.firstIndex(where: { $0.bytes == bytes }), s.free[i].head != 0 {
                let head = s.free[i].head
                s.free[i].head = UnsafeRawPointer(bitPattern: head)!.load(as: UInt.self)
                return head
            }
            if s.cursor == 0 || s.end - s.cursor < UInt(bytes) {
                let chunk = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkBytes, alignment: Self.chunkBytes)
                #if canImport(Glibc)
                _ = madvise(chunk, Self.chunkBytes, MADV_HUGEPAGE)
                #endif
                s.cursor = UInt(bitPattern: chunk)
                s.end = s.cursor + UInt(Self.chunkBytes)
                s.chunks += 1
            }
            let a = s.cursor
            s.cursor += UInt(bytes)
            return a
        }
        return UnsafeMutableRawPointer(bitPattern: address)!
    }

    /// Returns a block from `allocate(byteCount:)` (same `byteCount`) for reuse.
    func release(_ block: UnsafeMutableRawPointer, byteCount: Int) {
        let bytes = Self.rounded(byteCount)
        if bytes > Self.maxPooledBytes {
            block.deallocate()
            return
        }
        state.withLock { s in
            let address = UInt(bitPattern: block)
            if let i = s.free.firstIndex(where: { $0.bytes == bytes }) {
                block.storeBytes(of: s.free[i].head, as: UInt.self)
                s.free[i].head = address
            } else {
                block.storeBytes(of: 0, as: UInt.self)
                s.free.append((bytes, address))
            }
        }
    }

    /// Chunks taken from the system so far (tests, stats).
    var chunkCount: Int { state.withLock { $0.chunks } }

    private static func rounded(_ n: Int) -> Int { max(lineBytes, (n + lineBytes - 1) / lineBytes * lineBytes) }
}
