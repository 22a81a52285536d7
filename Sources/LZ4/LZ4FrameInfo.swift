import CLZ4

/// What a frame header announces, as read by `LZ4FrameDecompressor`.
public struct LZ4FrameInfo: Sendable, Equatable {
    public var blockSize: LZ4FrameOptions.BlockSize
    public var independentBlocks: Bool
    public var contentChecksum: Bool
    public var blockChecksums: Bool
    /// The uncompressed size the header records, if any; liblz4 verifies it at the end.
    public var contentSize: UInt64?

    /// Converts liblz4's header description; nil for values the format does not define.
    init?(_ info: LZ4F_frameInfo_t) {
        guard let blockSize = LZ4FrameOptions.BlockSize(id: info.blockSizeID) else { return nil }
        self.blockSize = blockSize
        independentBlocks = info.blockMode == LZ4F_blockIndependent
        contentChecksum = info.contentChecksumFlag == LZ4F_contentChecksumEnabled
        blockChecksums = info.blockChecksumFlag == LZ4F_blockChecksumEnabled
        contentSize = info.contentSize == 0 ? nil : info.contentSize
    }
}
