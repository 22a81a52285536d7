import CLZ4

/// Decodes one LZ4 frame fed in pieces of any size, split anywhere, and emits the
/// uncompressed bytes incrementally through a `sink` closure.
///
/// Owns one liblz4 decompression context and one output buffer (two when the
/// content checksum is pipelined) of the frame's maximum block size (at most
/// 4 MiB), allocated once the header is read, so
/// memory stays bounded whatever the frame claims. Each sink call receives at most
/// one block's worth of bytes in a buffer valid only during the call.
///
/// Input rules (all violations throw `LZ4Error`, never trap):
/// - the first four bytes must be the LZ4 frame magic (skippable and legacy
///   frames are rejected as `notAnLZ4Frame`);
/// - exactly one frame is decoded: any byte after its end mark and checksum,
///   including the start of a second frame, throws `trailingData`;
/// - `finish()` throws `truncatedFrame` unless the whole frame was received;
/// - corrupt blocks and checksum mismatches throw liblz4's error.
/// After an error every later call throws the same error until `reset()`.
/// Output that precedes a content-checksum failure has already been emitted:
/// only a frame whose `finish()` succeeded is known good.
///
/// For frames with a content checksum and no block checksums, the content checksum
/// is verified here (`XXH32`, several times faster than liblz4's) with liblz4's
/// checksum work switched off; the error on mismatch is liblz4's
/// `ERROR_contentChecksum_invalid` either way. Frames with block checksums are
/// verified entirely by liblz4. Optionally (`pipelinedContentHash`) the hashing is
/// pipelined (`ContentHashPipeline`): block N is hashed on a background queue while
/// block N+1 decodes into the other half of a double buffer; the frame's end still
/// waits for every block's hash before `finish()` can succeed.
///
/// Not `Sendable`: one owner drives it; the liblz4 context is not thread-safe.
public final class LZ4FrameDecompressor {
    /// Decompressed bytes are delivered here; the buffer is valid only during the call.
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private enum Stage {
        /// Collecting the frame header; `expected` bytes are needed for the next check.
        case header(expected: Int)
        case blocks
        case finished
        case failed(any Error)
    }

    private let context: OpaquePointer
    private var stage: Stage = .header(expected: 4)
    private var headerBytes: [UInt8] = []
    /// Output slots liblz4 decodes into; `ContentHashPipeline.slotCount` when hashing is
    /// pipelined, so earlier blocks can be hashed in the background while the next is written.
    private var outputs: [UnsafeMutableRawBufferPointer] = []
    /// The slot the next decode writes.
    private var slot = 0
    private var options = LZ4F_decompressOptions_t()
    /// Lets liblz4 verify content checksums itself (tests cross-check with it).
    private let libraryContentChecksum: Bool
    /// True while this type, not liblz4, verifies the current frame's content checksum.
    private var hashesContent = false
    private var contentHash = XXH32()
    /// Background hashing, when pipelined; `contentHash` is unused then.
    private let pipeline: ContentHashPipeline?
    /// The last four compressed bytes liblz4 consumed, little-endian: after the
    /// frame ends, its stored content checksum.
    private var lastFourBytesIn: UInt32 = 0

    /// The decoded frame header, once enough input has arrived.
    public private(set) var frameInfo: LZ4FrameInfo?
    /// Compressed bytes accepted so far for this frame.
    public private(set) var bytesIn: UInt64 = 0
    /// Decompressed bytes emitted so far for this frame.
    public private(set) var bytesOut: UInt64 = 0

    /// `pipelinedContentHash` hashes the content on a background queue (only used
    /// when the machine has a second CPU). Off by default: on a loaded 2-core
    /// machine the per-block hand-off made wall time worse, not better (see
    /// `Tools/bench-lz4 --pipelined-checksum`).
    public convenience init(pipelinedContentHash: Bool = false) throws {
        try self.init(libraryContentChecksum: false, pipelinedContentHash: pipelinedContentHash && ContentHashPipeline.isWorthwhile)
    }

    /// `pipelinedContentHash` turns the background hashing on or off (tests cover both).
    init(libraryContentChecksum: Bool, pipelinedContentHash: Bool = false) throws {
        self.libraryContentChecksum = libraryContentChecksum
        pipeline = pipelinedContentHash ? ContentHashPipeline() : nil
        var created: OpaquePointer?
        try LibraryResult.check(LZ4F_createDecompressionContext(&created, UInt32(LZ4F_VERSION)))
        guard let created else { throw LZ4Error.library(code: .allocationFailed, name: "ERROR_allocation_failed") }
        context = created
        headerBytes.reserveCapacity(Int(LZ4F_HEADER_SIZE_MAX))
    }

    deinit {
        // Background hashing may still read the slots (after a decode error).
        pipeline?.drain()
        LZ4F_freeDecompressionContext(context)
        for output in outputs { output.deallocate() }
    }

    /// True once the end mark (and content checksum, if any) has been decoded and verified.
    public var isFinished: Bool {
        if case .finished = stage { return true }
        return false
    }

    /// Feeds the next piece of the frame and emits everything it decodes.
    public func decompress(_ input: UnsafeRawBufferPointer, _ sink: Sink) throws {
        switch stage {
        case .failed(let error): throw error
        case .finished:
            if input.isEmpty { return }
            throw fail(LZ4Error.trailingData(byteCount: input.count))
        case .header, .blocks:
            break
        }
        // Each call drains everything liblz4 can produce, so an empty piece has no work.
        guard !input.isEmpty else { return }
        do {
            var rest = try consumeHeader(input)
            if case .blocks = stage { try decodeBlocks(&rest, sink) }
        } catch {
            throw fail(error)
        }
    }

    /// Declares the input complete; throws `truncatedFrame` if the frame has not ended.
    public func finish() throws {
        switch stage {
        case .finished: return
        case .failed(let error): throw error
        case .header, .blocks: throw fail(LZ4Error.truncatedFrame(bytesReceived: bytesIn))
        }
    }

    /// Forgets the current frame (finished, failed or partial) to decode a new one.
    public func reset() {
        pipeline?.drain()
        LZ4F_resetDecompressionContext(context)
        stage = .header(expected: 4)
        headerBytes.removeAll(keepingCapacity: true)
        frameInfo = nil
        bytesIn = 0
        bytesOut = 0
    }

    /// Records `error` as terminal for this frame and returns it for throwing.
    private func fail(_ error: any Error) -> any Error {
        stage = .failed(error)
        return error
    }

    /// Collects header bytes until the whole header is checked, then returns the
    /// unconsumed rest of `input`.
    private func consumeHeader(_ input: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        var rest = input
        while case .header(let expected) = stage, !rest.isEmpty {
            let take = min(expected - headerBytes.count, rest.count)
            headerBytes.append(contentsOf: rest.prefix(take))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
            bytesIn += UInt64(take)
            guard headerBytes.count == expected else { break }
            stage = try nextHeaderStage()
        }
        return rest
    }

    /// Validates the header bytes collected so far and says what to collect next.
    private func nextHeaderStage() throws -> Stage {
        if headerBytes.count == 4 {
            let magic = headerBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian
            guard magic == LZ4Frame.magicNumber else { throw LZ4Error.notAnLZ4Frame(magic: magic) }
            return .header(expected: Int(LZ4F_MIN_SIZE_TO_KNOW_HEADER_LENGTH))
        }
        if headerBytes.count == Int(LZ4F_MIN_SIZE_TO_KNOW_HEADER_LENGTH) {
            let size = try headerBytes.withUnsafeBytes { try LibraryResult.check(LZ4F_headerSize($0.baseAddress, $0.count)) }
            if size > headerBytes.count { return .header(expected: size) }
        }
        var info = LZ4F_frameInfo_t()
        var consumed = headerBytes.count
        try headerBytes.withUnsafeBytes {
            _ = try LibraryResult.check(LZ4F_getFrameInfo(context, &info, $0.baseAddress, &consumed))
        }
        guard consumed == headerBytes.count, let decoded = LZ4FrameInfo(info) else {
            throw LZ4Error.library(code: .frameHeaderIncomplete, name: "ERROR_frameHeader_incomplete")
        }
        frameInfo = decoded
        hashesContent = decoded.contentChecksum && !decoded.blockChecksums && !libraryContentChecksum
        options.skipChecksums = hashesContent ? 1 : 0
        contentHash = XXH32()
        pipeline?.reset()
        lastFourBytesIn = 0
        let slotCount = hashesContent && pipeline != nil ? ContentHashPipeline.slotCount : 1
        if outputs.count != slotCount || outputs[0].count != decoded.blockSize.bytes {
            for output in outputs { output.deallocate() }
            outputs = (0..<slotCount).map { _ in .allocate(byteCount: decoded.blockSize.bytes, alignment: 16) }
        }
        slot = 0
        return .blocks
    }

    /// Runs liblz4 over `input`, emitting each block as it is decoded, until the
    /// input is used up or the frame ends.
    private func decodeBlocks(_ input: inout UnsafeRawBufferPointer, _ sink: Sink) throws {
        while true {
            let output = outputs[slot]
            var produced = output.count
            var consumed = input.count
            let hint = LZ4F_decompress(context, output.baseAddress, &produced, input.baseAddress, &consumed, &options)
            if LZ4F_isError(hint) != 0 { throw LibraryResult.error(for: hint) }
            if hashesContent { rememberLastFour(UnsafeRawBufferPointer(rebasing: input[0..<consumed])) }
            input = UnsafeRawBufferPointer(rebasing: input.dropFirst(consumed))
            bytesIn += UInt64(consumed)
            if produced > 0 {
                bytesOut += UInt64(produced)
                let chunk = UnsafeRawBufferPointer(rebasing: output[0..<produced])
                if hashesContent { hash(chunk) }
                // Emit every call: an empty buffer lets liblz4 decode the next block in place.
                try sink(chunk)
            }
            if hint == 0 {
                if hashesContent && contentDigest() != lastFourBytesIn {
                    throw LZ4Error.library(code: .contentChecksumInvalid, name: "ERROR_contentChecksum_invalid")
                }
                stage = .finished
                if !input.isEmpty { throw LZ4Error.trailingData(byteCount: input.count) }
                return
            }
            // Stop when liblz4 neither read nor wrote: it needs more input.
            if consumed == 0 && produced == 0 { return }
        }
    }

    /// Adds a decoded chunk of the current slot to the content checksum; when
    /// pipelined, moves to the next slot, waiting until its earlier hash is done.
    private func hash(_ chunk: UnsafeRawBufferPointer) {
        guard let pipeline else {
            contentHash.update(chunk)
            return
        }
        pipeline.submit(chunk, slot: slot)
        slot = (slot + 1) % outputs.count
        pipeline.waitForSlot(slot)
    }

    /// The content checksum of every byte emitted so far in this frame.
    private func contentDigest() -> UInt32 {
        pipeline?.digest() ?? contentHash.digest()
    }

    /// Shifts `consumed` into `lastFourBytesIn`.
    private func rememberLastFour(_ consumed: UnsafeRawBufferPointer) {
        if consumed.count >= 4 {
            lastFourBytesIn = UInt32(littleEndian: consumed.loadUnaligned(fromByteOffset: consumed.count - 4, as: UInt32.self))
        } else {
            for byte in consumed { lastFourBytesIn = lastFourBytesIn >> 8 | UInt32(byte) << 24 }
        }
    }
}

@available(*, unavailable, message: "owns a liblz4 context that must not be shared between threads")
extension LZ4FrameDecompressor: Sendable {}
