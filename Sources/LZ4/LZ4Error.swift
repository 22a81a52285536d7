/// Everything that can go wrong while compressing or decompressing an LZ4 frame.
///
/// Corrupt, truncated or foreign input always surfaces as one of these cases; the
/// decoder never traps on bad input. `library` carries liblz4's own error code and
/// name (for example `ERROR_contentChecksum_invalid`) so logs match liblz4's vocabulary.
public enum LZ4Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// liblz4 rejected the input or the request; `name` is liblz4's error name.
    case library(code: LZ4LibraryErrorCode, name: String)
    /// The first four bytes are not the LZ4 frame magic number `0x184D2204`
    /// (little-endian). Skippable and legacy frames are rejected too.
    case notAnLZ4Frame(magic: UInt32)
    /// The caller said the input was finished before the frame's end mark (and
    /// content checksum, when present) had been received.
    case truncatedFrame(bytesReceived: UInt64)
    /// Bytes followed the end of the frame. A decompressor decodes exactly one
    /// frame; a second frame or garbage after it is an error, not ignored.
    case trailingData(byteCount: Int)
    /// One-shot decompression would have produced more than the caller's limit.
    case outputLimitExceeded(limitBytes: Int)
    /// The requested options are outside what the frame format allows.
    case invalidOptions(String)

    public var description: String {
        switch self {
        case .library(let code, let name): "liblz4 error \(code.rawValue) (\(name))"
        case .notAnLZ4Frame(let magic): "not an LZ4 frame: magic 0x\(String(magic, radix: 16))"
        case .truncatedFrame(let received): "LZ4 frame truncated after \(received) bytes"
        case .trailingData(let count): "\(count) bytes of trailing data after the LZ4 frame"
        case .outputLimitExceeded(let limit): "LZ4 frame decompresses to more than \(limit) bytes"
        case .invalidOptions(let why): "invalid LZ4 frame options: \(why)"
        }
    }
}

/// liblz4's frame error codes (`LZ4F_errorCodes` in lz4frame.h, stable since v1.8),
/// in liblz4's order. Codes a newer liblz4 adds map to `generic`; the
/// accompanying name in `LZ4Error.library` still carries liblz4's own text.
public enum LZ4LibraryErrorCode: Int, Sendable {
    case generic = 1
    case maxBlockSizeInvalid
    case blockModeInvalid
    case contentChecksumFlagInvalid
    case compressionLevelInvalid
    case headerVersionWrong
    case blockChecksumInvalid
    case reservedFlagSet
    case allocationFailed
    case srcSizeTooLarge
    case dstMaxSizeTooSmall
    case frameHeaderIncomplete
    case frameTypeUnknown
    case frameSizeWrong
    case srcPtrWrong
    case decompressionFailed
    case headerChecksumInvalid
    case contentChecksumInvalid
    case frameDecodingAlreadyStarted
    case compressionStateUninitialized
    case parameterNull
}
