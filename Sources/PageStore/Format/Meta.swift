/// The meta page: the root of one committed state. Two copies live in pages 0 and 1; commit
/// `txid` writes page `txid % 2`, so a torn meta write can only destroy the older copy.
/// Opening picks the valid copy with the highest txid.
struct Meta: Equatable, Sendable {
    static let magic: UInt32 = 0x5350_4C46  // "FLPS" little-endian
    static let formatVersion: UInt32 = 1
    // Body offsets (after the common page header).
    static let magicOffset = 24, versionOffset = 28, pageSizeOffset = 32, flagsOffset = 36
    static let directoryOffset = 40, freelistOffset = 48, pageCountOffset = 56, txidOffset = 64
    static let encodedSize = 72

    var pageSize: Int
    /// Root page of the bucket directory tree (0 = no buckets).
    var directory: PageID
    /// First page of the freelist run (0 = empty freelist); `freelistSentinel` when the
    /// meta has `freelistNotStored`.
    var freelist: PageID
    /// High-water mark: pages `[0, pageCount)` are either in use or free.
    var pageCount: UInt64
    /// The transaction that wrote this meta.
    var txid: UInt64
    /// Feature bits (`freelistNotStored`); a file whose newest meta has a bit this code does
    /// not know is refused at open (`PageStoreError.unsupportedFormat`).
    var flags: UInt32 = 0

    /// Flag bit 0 (session 12): no freelist run is stored; the free pages are every page below
    /// `pageCount` that no tree reaches (rebuilt at open). `freelist` then holds
    /// `freelistSentinel`.
    static let freelistNotStored: UInt32 = 1
    /// Flag bit 1 (session 13): the file may hold MVCC records in a write-buffer bucket
    /// (`mvcc-format.md`, "Write buffer"): code that does not know the buffer would miss
    /// those records, so it must refuse the file. Set by a transaction that writes such a
    /// bucket (`WriteTransaction.requireFeature(.writeBuffer)`) and kept by every later commit.
    static let writeBuffer: UInt32 = 2
    /// Flags that, once set, every later commit keeps (format features, not per-commit facts).
    static let stickyFlags: UInt32 = writeBuffer
    /// Every flag this code understands.
    static let knownFlags: UInt32 = freelistNotStored | writeBuffer
    /// The `freelist` field of a meta without a stored freelist: page 1, a meta page, so code
    /// older than the flag refuses the file ("expected a freelist page, found type 1") instead
    /// of opening it with an empty freelist.
    static let freelistSentinel: PageID = 1

    /// Whether the committed state has a freelist run to read (else it is rebuilt).
    var storesFreelist: Bool { flags & Self.freelistNotStored == 0 }

    /// Encodes into a zeroed page buffer of `pageSize` bytes, checksum included.
    func encode(into buffer: UnsafeMutableRawPointer) {
        let w = PageWriter(base: buffer)
        w.writeHeader(type: .meta, count: 0, overflow: 0, length: 0, id: txid % 2)
        w.set32(Self.magicOffset, Self.magic)
        w.set32(Self.versionOffset, Self.formatVersion)
        w.set32(Self.pageSizeOffset, UInt32(pageSize))
        w.set32(Self.flagsOffset, flags)
        w.set64(Self.directoryOffset, directory)
        w.set64(Self.freelistOffset, freelist)
        w.set64(Self.pageCountOffset, pageCount)
        w.set64(Self.txidOffset, txid)
        w.seal(checkedLength: pageSize)
    }

    /// Why a meta page was rejected.
    enum Invalid: Error, CustomStringConvertible {
        case badMagic, badVersion(UInt32), badPageSize(Int), badChecksum, badSlot
        var description: String {
            switch self {
            case .badMagic: "bad magic"
            case .badVersion(let v): "unsupported format version \(v)"
            case .badPageSize(let p): "page size \(p) differs or is invalid"
            case .badChecksum: "checksum mismatch"
            case .badSlot: "meta page id does not match its slot"
            }
        }
    }

    /// Decodes and validates a meta page read from `slot` (0 or 1).
    static func decode(_ bytes: UnsafeRawBufferPointer, slot: UInt64) -> Result<Meta, Invalid> {
        guard bytes.count >= encodedSize, let base = bytes.baseAddress else { return .failure(.badMagic) }
        let p = PageRef(base: base)
        guard p.u32(magicOffset) == magic else { return .failure(.badMagic) }
        guard p.u32(versionOffset) == formatVersion else { return .failure(.badVersion(p.u32(versionOffset))) }
        let pageSize = Int(p.u32(pageSizeOffset))
        guard PageFileOptions.isValidPageSize(pageSize), pageSize <= bytes.count else { return .failure(.badPageSize(pageSize)) }
        let crc = CRC32CBridge.checksum(UnsafeRawBufferPointer(start: base + 4, count: pageSize - 4))
        guard crc == p.checksum else { return .failure(.badChecksum) }
        guard p.id == slot, p.rawType == PageType.meta.rawValue else { return .failure(.badSlot) }
        return .success(Meta(pageSize: pageSize, directory: p.u64(directoryOffset), freelist: p.u64(freelistOffset),
                             pageCount: p.u64(pageCountOffset), txid: p.u64(txidOffset), flags: p.u32(flagsOffset)))
    }
}
