#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One read-only (PROT_READ) mapping of the file, possibly longer than the file
/// (pages past the end are never touched: every access is bounded by a committed
/// `pageCount`). Readers keep the mapping they started with alive by holding a reference;
/// when the file outgrows it the writer publishes a new, larger mapping and the old one is
/// unmapped when its last reader finishes (deinit). Also owns the "checksum verified"
/// bitmap and the decoded branch-page cache for the pages seen through it.
final class Mapping: @unchecked Sendable {
    // @unchecked Sendable: `base`/`length` are immutable after init and the memory is
    // read-only; the bitmap is only touched through atomics.
    let base: UnsafeRawPointer
    let length: Int
    let pageSize: Int
    private let verified: UnsafeMutablePointer<Atomic<UInt64>>
    private let words: Int
    /// Decoded branch pages read through this mapping (see `BranchCache` for why its
    /// entries are never stale).
    let branches: BranchCache

    init(fd: Int32, length: Int, pageSize: Int, path: String) throws(PageStoreError) {
        let p = mmap(nil, length, PROT_READ, Self.flags, fd, 0)
        guard let p, p != MAP_FAILED else { throw .io(operation: "mmap", path: path, errno: errno) }
        self.base = UnsafeRawPointer(p)
        self.length = length
        self.pageSize = pageSize
        self.words = (length / pageSize + 63) / 64
        self.verified = .allocate(capacity: words)
        for i in 0..<words { (verified + i).initialize(to: Atomic(0)) }
        self.branches = BranchCache(pages: length / pageSize)
    }

    /// Linux: MAP_PRIVATE. A read-only private mapping is never written, so it maps the page
    /// cache's own pages and sees every `pwrite` at once, as a shared one does; but writeback
    /// skips it when write-protecting the pages it cleans (`folio_mkclean` walks only shared
    /// mappings: perf, session 10, ~3% of a random-put commit's CPU went to that walk).
    /// Elsewhere MAP_SHARED (whether a private mapping sees later writes is unspecified).
    #if os(Linux)
    static let flags = MAP_PRIVATE
    #else
    static let flags = MAP_SHARED
    #endif

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
        verified.deinitialize(count: words)
        verified.deallocate()
    }

    @inline(__always) func isVerified(_ id: PageID) -> Bool {
        let i = Int(id)
        return verified[i >> 6].load(ordering: .relaxed) & (1 << UInt64(i & 63)) != 0
    }

    /// Takes over the verified bits of `old` (a mapping of the same file being replaced by
    /// this one): a page's bit means its current bytes were verified or written by this
    /// process, whichever mapping they are read through. Without this every page would be
    /// checksummed again after each remap (perf: CRC32C was 6% of a scan after the puts
    /// that grew the file).
    func inheritVerified(from old: Mapping) {
        for i in 0..<min(words, old.words) {
            let bits = old.verified[i].load(ordering: .relaxed)
            if bits != 0 { verified[i].bitwiseOr(bits, ordering: .relaxed) }
        }
    }

    @inline(__always) func markVerified(_ id: PageID) {
        let i = Int(id)
        verified[i >> 6].bitwiseOr(1 << UInt64(i & 63), ordering: .relaxed)
    }
}
