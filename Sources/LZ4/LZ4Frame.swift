import CLZ4

/// One-shot LZ4 frame helpers for data that comfortably fits in memory, and the
/// format's constants. Large streams (range snapshots) go through
/// `LZ4FrameCompressor` / `LZ4FrameDecompressor` instead.
public enum LZ4Frame {
    /// The little-endian magic number that opens every LZ4 frame.
    public static let magicNumber: UInt32 = 0x184D_2204

    /// Compresses `bytes` into one complete frame. Unless `options.contentSize` is
    /// already set, the frame records the input size so the decoder verifies it.
    public static func compress(_ bytes: some Collection<UInt8>, options: LZ4FrameOptions = LZ4FrameOptions()) throws -> [UInt8] {
        try withContiguousBytes(bytes) { input in
            var options = options
            if options.contentSize == nil && input.count > 0 { options.contentSize = UInt64(input.count) }
            var prefs = try options.preferences()
            var frame: [UInt8] = []
            frame.reserveCapacity(LZ4F_compressFrameBound(input.count, &prefs))
            let compressor = try LZ4FrameCompressor(options: options)
            try compressor.begin { frame.append(contentsOf: $0) }
            try compressor.update(input) { frame.append(contentsOf: $0) }
            try compressor.end { frame.append(contentsOf: $0) }
            return frame
        }
    }

    /// The frame format's content checksum (XXH32, seed 0) of `bytes`, computed the
    /// way the compressor and decompressor compute it (exposed for benchmarks).
    public static func contentChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        XXH32.hash(bytes)
    }

    /// Decompresses exactly one complete frame. Throws `outputLimitExceeded` as soon
    /// as the output would pass `maxOutputBytes`, so a hostile frame cannot make this
    /// allocate more than the caller allows; see `LZ4FrameDecompressor` for the
    /// other errors.
    public static func decompress(_ frame: some Collection<UInt8>, maxOutputBytes: Int = .max) throws -> [UInt8] {
        let decompressor = try LZ4FrameDecompressor()
        var output: [UInt8] = []
        try withContiguousBytes(frame) { input in
            try decompressor.decompress(input) { piece in
                guard piece.count <= maxOutputBytes - output.count else {
                    throw LZ4Error.outputLimitExceeded(limitBytes: maxOutputBytes)
                }
                output.append(contentsOf: piece)
            }
        }
        try decompressor.finish()
        return output
    }
}

/// Runs `body` over `bytes` as one contiguous buffer, copying only when the
/// collection has no contiguous storage.
func withContiguousBytes<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    if let result = try bytes.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(bytes).withUnsafeBytes(body)
}
