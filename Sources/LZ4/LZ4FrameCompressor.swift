import CLZ4

/// Writes LZ4 frames incrementally: `begin` emits the frame header, `update` feeds
/// uncompressed bytes of any size and emits whatever compressed blocks are ready,
/// `end` flushes the last partial block and emits the end mark and content
/// checksum. After `end` the same compressor can `begin` the next frame.
///
/// Owns one liblz4 compression context and one output buffer sized for the worst
/// case of one block, so memory stays bounded (about three block sizes) however
/// much data passes through. Compressed bytes are handed to a `sink` closure as a
/// buffer that is valid only during that call; the sink may throw to abort.
///
/// Calling `update` or `end` outside a frame, or `begin` inside one, is a
/// programming error and traps. After any thrown error the frame is abandoned and
/// the compressor is back outside a frame.
///
/// The content checksum is computed here (`XXH32`) rather than by liblz4, which is
/// several times slower at it; the output is still a standard LZ4 frame.
///
/// Not `Sendable`: one owner drives it; the liblz4 context is not thread-safe.
public final class LZ4FrameCompressor {
    /// Compressed bytes are delivered here; the buffer is valid only during the call.
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private let context: OpaquePointer
    private var preferences: LZ4F_preferences_t
    /// Largest slice handed to one `LZ4F_compressUpdate` call.
    private let sliceBytes: Int
    private let output: UnsafeMutableRawBufferPointer
    private var outputUsed = 0
    private var inFrame = false
    /// True when this type, not liblz4, writes the content checksum.
    private let hashesContent: Bool
    private var contentHash = XXH32()

    /// The options every frame from this compressor is written with.
    public let options: LZ4FrameOptions
    /// Uncompressed bytes fed into the current (or last) frame.
    public private(set) var frameBytesIn: UInt64 = 0
    /// Compressed bytes emitted for the current (or last) frame, header included.
    public private(set) var frameBytesOut: UInt64 = 0

    /// Creates a compressor; throws `LZ4Error.invalidOptions` for impossible options.
    public convenience init(options: LZ4FrameOptions = LZ4FrameOptions()) throws {
        try self.init(options: options, libraryContentChecksum: false)
    }

    /// `libraryContentChecksum` lets liblz4 compute the content checksum (tests
    /// cross-check the two implementations with it).
    init(options: LZ4FrameOptions, libraryContentChecksum: Bool) throws {
        self.options = options
        preferences = try options.preferences()
        hashesContent = options.contentChecksum && !libraryContentChecksum
        if hashesContent { preferences.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum }
        var created: OpaquePointer?
        try LibraryResult.check(LZ4F_createCompressionContext(&created, UInt32(LZ4F_VERSION)))
        guard let created else { throw LZ4Error.library(code: .allocationFailed, name: "ERROR_allocation_failed") }
        context = created
        sliceBytes = options.blockSize.bytes
        // One update of `sliceBytes` plus everything the context may still buffer,
        // plus room for the header or the end mark and checksum.
        let capacity = max(LZ4F_compressBound(sliceBytes, &preferences), LZ4F_compressBound(0, &preferences))
            + Int(LZ4F_HEADER_SIZE_MAX)
        output = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        LZ4F_freeCompressionContext(context)
        output.deallocate()
    }

    /// True between `begin` and a successful `end`.
    public var isInFrame: Bool { inFrame }

    /// Starts a frame and emits its header.
    public func begin(_ sink: Sink) throws {
        precondition(!inFrame, "LZ4FrameCompressor.begin called inside a frame")
        frameBytesIn = 0
        frameBytesOut = 0
        outputUsed = 0
        let written = LZ4F_compressBegin(context, output.baseAddress, output.count, &preferences)
        try LibraryResult.check(written)
        if hashesContent {
            FrameDescriptor.setContentChecksumFlag(in: UnsafeMutableRawBufferPointer(rebasing: output[0..<written]))
            contentHash = XXH32()
        }
        outputUsed = written
        inFrame = true
        try guarded { try flush(sink) }
    }

    /// Compresses `input` (any size, including empty) and emits the blocks that are
    /// complete. A partial block stays buffered inside liblz4 until more input or `end`.
    public func update(_ input: UnsafeRawBufferPointer, _ sink: Sink) throws {
        precondition(inFrame, "LZ4FrameCompressor.update called outside a frame")
        try guarded {
            var offset = 0
            while offset < input.count {
                let slice = min(sliceBytes, input.count - offset)
                if hashesContent { contentHash.update(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + slice)])) }
                let bound = LZ4F_compressBound(slice, &preferences)
                if output.count - outputUsed < bound { try flush(sink) }
                let written = LZ4F_compressUpdate(
                    context, output.baseAddress! + outputUsed, output.count - outputUsed,
                    input.baseAddress! + offset, slice, nil)
                try LibraryResult.check(written)
                outputUsed += written
                offset += slice
                frameBytesIn += UInt64(slice)
            }
            try flush(sink)
        }
    }

    /// Flushes the last partial block, writes the end mark and content checksum,
    /// and emits them. The frame is complete once this returns.
    public func end(_ sink: Sink) throws {
        precondition(inFrame, "LZ4FrameCompressor.end called outside a frame")
        try guarded {
            if output.count - outputUsed < LZ4F_compressBound(0, &preferences) + 4 { try flush(sink) }
            let written = LZ4F_compressEnd(
                context, output.baseAddress! + outputUsed, output.count - outputUsed, nil)
            try LibraryResult.check(written)
            outputUsed += written
            if hashesContent {
                output.storeBytes(of: contentHash.digest().littleEndian, toByteOffset: outputUsed, as: UInt32.self)
                outputUsed += 4
            }
            try flush(sink)
        }
        inFrame = false
    }

    /// Hands the buffered output to `sink` and empties the buffer.
    private func flush(_ sink: Sink) throws {
        guard outputUsed > 0 else { return }
        let ready = UnsafeRawBufferPointer(rebasing: output[0..<outputUsed])
        outputUsed = 0
        frameBytesOut += UInt64(ready.count)
        try sink(ready)
    }

    /// Runs `body`; on any error abandons the frame (liblz4's context is undefined
    /// after an error and is re-initialised by the next `begin`).
    private func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            inFrame = false
            outputUsed = 0
            throw error
        }
    }
}

@available(*, unavailable, message: "owns a liblz4 context that must not be shared between threads")
extension LZ4FrameCompressor: Sendable {}
