import CLZ4

/// How an LZ4 frame is written: block size, block independence, checksums and
/// compression level. Decoding needs no options; everything is read from the frame
/// header.
///
/// The defaults favour speed and integrity for snapshot streaming: fast level,
/// independent 256 KiB blocks, content checksum on. 256 KiB blocks keep each
/// block cache-resident while it is hashed and handed on (measured ~15-25%
/// faster than 4 MiB on snapshot-like data) for under 1% of ratio. Per-block checksums are off by
/// default: liblz4 computes them with its own (slow) XXH32, which costs about a
/// quarter of decompression throughput, and the content checksum already catches
/// corruption before `finish()` succeeds.
public struct LZ4FrameOptions: Sendable, Equatable {
    /// The largest uncompressed block the frame may contain. It also bounds the
    /// buffers both sides allocate (roughly twice this size per context).
    public enum BlockSize: Sendable, Equatable, CaseIterable {
        case kib64, kib256, mib1, mib4

        /// The maximum uncompressed size of one block, in bytes.
        public var bytes: Int {
            switch self {
            case .kib64: 64 << 10
            case .kib256: 256 << 10
            case .mib1: 1 << 20
            case .mib4: 4 << 20
            }
        }

        var id: LZ4F_blockSizeID_t {
            switch self {
            case .kib64: LZ4F_max64KB
            case .kib256: LZ4F_max256KB
            case .mib1: LZ4F_max1MB
            case .mib4: LZ4F_max4MB
            }
        }

        /// The block size a decoded frame header announces; nil for an unknown id.
        init?(id: LZ4F_blockSizeID_t) {
            switch id {
            case LZ4F_max64KB, LZ4F_default: self = .kib64
            case LZ4F_max256KB: self = .kib256
            case LZ4F_max1MB: self = .mib1
            case LZ4F_max4MB: self = .mib4
            default: return nil
            }
        }
    }

    /// Fastest standard level (LZ4's "fast" mode, acceleration 1).
    public static let fastLevel: Int = 0

    /// Largest uncompressed block size; larger compresses slightly better.
    public var blockSize: BlockSize = .kib256
    /// Independent blocks decode faster and let a decoder start at any block;
    /// linked blocks compress better when blocks are small.
    public var independentBlocks: Bool = true
    /// Appends an XXH32 of all uncompressed content after the end mark.
    public var contentChecksum: Bool = true
    /// Appends an XXH32 of each compressed block after it, so corruption is caught
    /// before the corrupt block is decoded (computed and verified by liblz4).
    public var blockChecksums: Bool = false
    /// 0 (default) is LZ4's fast mode; negative values trade ratio for speed
    /// (acceleration); 3...12 select LZ4 HC.
    public var compressionLevel: Int = LZ4FrameOptions.fastLevel
    /// When set, written into the header and verified by both sides: the frame must
    /// carry exactly this many uncompressed bytes.
    public var contentSize: UInt64? = nil

    public init() {}

    public init(
        blockSize: BlockSize = .kib256, independentBlocks: Bool = true, contentChecksum: Bool = true,
        blockChecksums: Bool = false, compressionLevel: Int = LZ4FrameOptions.fastLevel,
        contentSize: UInt64? = nil
    ) {
        self.blockSize = blockSize
        self.independentBlocks = independentBlocks
        self.contentChecksum = contentChecksum
        self.blockChecksums = blockChecksums
        self.compressionLevel = compressionLevel
        self.contentSize = contentSize
    }

    /// The liblz4 preferences these options describe, after validation.
    func preferences() throws(LZ4Error) -> LZ4F_preferences_t {
        let maxLevel = Int(LZ4F_compressionLevel_max())
        guard compressionLevel <= maxLevel, compressionLevel >= -65_537 else {
            throw .invalidOptions("compressionLevel \(compressionLevel) outside -65537...\(maxLevel)")
        }
        if contentSize == 0 {
            // The header cannot say "exactly zero bytes": 0 means "size unknown".
            throw .invalidOptions("contentSize 0 cannot be recorded; use nil")
        }
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.blockSizeID = blockSize.id
        prefs.frameInfo.blockMode = independentBlocks ? LZ4F_blockIndependent : LZ4F_blockLinked
        prefs.frameInfo.contentChecksumFlag = contentChecksum ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum
        prefs.frameInfo.blockChecksumFlag = blockChecksums ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum
        prefs.frameInfo.frameType = LZ4F_frame
        prefs.frameInfo.contentSize = contentSize ?? 0
        prefs.compressionLevel = Int32(compressionLevel)
        prefs.autoFlush = 0
        prefs.favorDecSpeed = 0
        return prefs
    }
}
