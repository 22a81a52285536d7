import CLZ4

/// Decodes one LZ4 frame fed in pieces of any size, split anywhere, and emits the
/// uncompressed bytes incrementally, either through a `sink` closure or straight
/// into a buffer the caller supplies (`decompress(_:into:)`, no intermediate copy).
///
/// Owns one liblz4 decompression context, a `BlockCursor` that hands liblz4 one
/// block per call (so liblz4 decodes every block in place, never through its own
/// buffer), and, for the sink API only, output slots of the frame's maximum block
/// size (at most 4 MiB; four when the content checksum is pipelined), allocated on
/// first use, so memory stays bounded whatever the frame claims. Each sink call
/// receives at most one block's worth of bytes in a buffer valid only during the call.
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
/// verified entirely by liblz4. By default, for frames that start while a CPU looks
/// idle, the hashing is pipelined (`ContentHashPipeline`): block N is hashed on a background
/// queue while block N+1 decodes (into the next of four sink slots, or further into
/// the caller's buffer); the frame's end still waits for every block's hash before
/// it can succeed, and `decompress(_:into:)` waits for its own blocks' hashes before
/// returning, so no background work reads the caller's memory afterwards.
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
    /// Background hashing, when enabled.
    private let pipeline: ContentHashPipeline?
    /// The current frame's checksum goes through `pipeline` (`contentHash` is unused
    /// then): decided per frame, only when a CPU looks idle.
    private var pipelining = false
    private let contentHashing: ContentHashing
    /// The last four compressed bytes liblz4 consumed, little-endian: after the
    /// frame ends, its stored content checksum.
    private var lastFourBytesIn: UInt32 = 0
    /// Where the current block ends, so liblz4 gets one block per call.
    private var cursor = BlockCursor(blockChecksums: false)

    /// The decoded frame header, once enough input has arrived.
    public private(set) var frameInfo: LZ4FrameInfo?
    /// Compressed bytes accepted so far for this frame.
    public private(set) var bytesIn: UInt64 = 0
    /// Decompressed bytes emitted so far for this frame.
    public private(set) var bytesOut: UInt64 = 0

    /// Where the content checksum of a frame (without block checksums) is computed.
    public enum ContentHashing: Sendable, Equatable {
        /// On the decoding thread.
        case inline
        /// On a background queue while the next blocks decode (inline on a one-CPU machine).
        case pipelined
        /// Pipelined for frames that start while a CPU looks idle
        /// (`ContentHashPipeline.hasIdleCPU`), inline otherwise. Hashing inline costs
        /// about a third of decoding time, so one thread cannot come near liblz4's raw
        /// block speed; but on a busy machine the second thread buys no CPU and only
        /// adds waiting (`Tools/bench-lz4 --checksum-hashing inline|pipelined`).
        case automatic
    }

    /// A decompressor hashing content checksums as `contentHashing` says.
    public convenience init(contentHashing: ContentHashing = .automatic) throws {
        let worthwhile = contentHashing != .inline && ContentHashPipeline.isWorthwhile
        try self.init(libraryContentChecksum: false, contentHashing: worthwhile ? contentHashing : .inline)
    }

    /// `pipelinedContentHash` forces the background hashing on or off (tests cover both).
    convenience init(libraryContentChecksum: Bool, pipelinedContentHash: Bool = false) throws {
        try self.init(libraryContentChecksum: libraryContentChecksum, contentHashing: pipelinedContentHash ? .pipelined : .inline)
    }

    /// `libraryContentChecksum` lets liblz4 verify content checksums itself (tests cross-check with it).
    init(libraryContentChecksum: Bool, contentHashing: ContentHashing) throws {
        self.contentHashing = contentHashing
        self.libraryContentChecksum = libraryContentChecksum
        pipeline = contentHashing == .inline ? nil : ContentHashPipeline()
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

    /// Decodes the next piece of the frame straight into `output`, without the block
    /// buffer and copy of the sink-based `decompress`.
    ///
    /// Reads `input` until it is used up, `output` is full or the frame ends, and
    /// returns how many bytes it read from `input` and wrote at the start of `output`.
    /// Call again with the unread rest of `input` (and fresh room) while
    /// `bytesRead < input.count`; bytes after the frame's end throw `trailingData`.
    /// liblz4 decodes a block in place only when `output` has room for a whole block
    /// (`frameInfo.blockSize`); with less room the result is the same, through
    /// liblz4's internal buffer. When this returns or throws, no background hashing
    /// reads `output` any more. Errors are the same as `decompress(_:_:)`'s.
    public func decompress(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws -> (bytesRead: Int, bytesWritten: Int) {
        switch stage {
        case .failed(let error): throw error
        case .finished:
            if input.isEmpty { return (0, 0) }
            throw fail(LZ4Error.trailingData(byteCount: input.count))
        case .header, .blocks:
            break
        }
        guard !input.isEmpty else { return (0, 0) }
        defer { pipeline?.drain() }
        do {
            var rest = try consumeHeader(input)
            var written = 0
            while case .blocks = stage, !rest.isEmpty {
                let unread = rest.count
                let room = UnsafeMutableRawBufferPointer(rebasing: output[written...])
                if room.isEmpty {
                    // Output full: only the end mark and checksum (or a partial size field) can still be read.
                    let allowed = cursor.limitBeforeData(rest)
                    if allowed == 0 { break }
                    var head = UnsafeRawBufferPointer(rebasing: rest.prefix(allowed))
                    _ = try decodeStep(&head, into: room, inSlot: false)
                    rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(allowed - head.count))
                } else {
                    written += try decodeStep(&rest, into: room, inSlot: false)
                }
                if written == output.count - room.count && rest.count == unread { break }
            }
            return (input.count - rest.count, written)
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
        pipelining = hashesContent && pipeline != nil
            && (contentHashing == .pipelined || ContentHashPipeline.hasIdleCPU())
        lastFourBytesIn = 0
        cursor = BlockCursor(blockChecksums: decoded.blockChecksums)
        slot = 0
        return .blocks
    }

    /// Runs liblz4 over `input`, emitting each block as it is decoded, until the
    /// input is used up or the frame ends.
    private func decodeBlocks(_ input: inout UnsafeRawBufferPointer, _ sink: Sink) throws {
        allocateOutputs()
        while case .blocks = stage {
            let output = outputs[slot]
            let unread = input.count
            let produced = try decodeStep(&input, into: output, inSlot: true)
            if produced > 0 {
                // Emit every step: the next one decodes into an empty slot, in place.
                try sink(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
            } else if input.isEmpty || input.count == unread {
                return  // liblz4 needs more input
            }
        }
    }

    /// One `LZ4F_decompress` call over at most one block of `input`, writing into
    /// `destination`; hashes what it wrote, and ends the frame after its end mark
    /// and checksum. Returns the number of bytes written. Writes nothing and reads
    /// nothing only when liblz4 needs more input than `input` holds.
    /// `inSlot` says `destination` is the current output slot (sink API), not the caller's memory.
    private func decodeStep(
        _ input: inout UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, inSlot: Bool
    ) throws -> Int {
        var produced = destination.count
        var consumed = cursor.limit(input)
        let hint = LZ4F_decompress(context, destination.baseAddress, &produced, input.baseAddress, &consumed, &options)
        if LZ4F_isError(hint) != 0 { throw LibraryResult.error(for: hint) }
        let read = UnsafeRawBufferPointer(rebasing: input[0..<consumed])
        cursor.advance(over: read)
        if hashesContent { rememberLastFour(read) }
        input = UnsafeRawBufferPointer(rebasing: input.dropFirst(consumed))
        bytesIn += UInt64(consumed)
        if produced > 0 {
            bytesOut += UInt64(produced)
            if hashesContent { hash(UnsafeRawBufferPointer(rebasing: destination[0..<produced]), inSlot: inSlot) }
        }
        if hint == 0 {
            if hashesContent && contentDigest() != lastFourBytesIn {
                throw LZ4Error.library(code: .contentChecksumInvalid, name: "ERROR_contentChecksum_invalid")
            }
            stage = .finished
            if !input.isEmpty { throw LZ4Error.trailingData(byteCount: input.count) }
        }
        return produced
    }

    /// Allocates the output slots the sink-based `decompress` decodes into, once per
    /// block size (the direct `decompress(_:into:)` needs none).
    private func allocateOutputs() {
        guard let blockSize = frameInfo?.blockSize.bytes else { return }
        let slotCount = pipelining ? ContentHashPipeline.slotCount : 1
        if outputs.count != slotCount || outputs[0].count != blockSize {
            for output in outputs { output.deallocate() }
            outputs = (0..<slotCount).map { _ in .allocate(byteCount: blockSize, alignment: 64) }
            slot = 0
        }
    }

    /// Adds a decoded chunk to the content checksum. When pipelined and the chunk
    /// is in the current output slot, moves to the next slot, waiting until its
    /// earlier hash is done; a chunk in the caller's memory (`decompress(_:into:)`)
    /// is queued without waiting, and that call drains the queue before returning.
    private func hash(_ chunk: UnsafeRawBufferPointer, inSlot: Bool) {
        guard pipelining, let pipeline else {
            contentHash.update(chunk)
            return
        }
        pipeline.submit(chunk)
        guard inSlot else { return }
        slot = (slot + 1) % ContentHashPipeline.slotCount
        pipeline.waitForSlot()
    }

    /// The content checksum of every byte emitted so far in this frame.
    private func contentDigest() -> UInt32 {
        pipelining ? pipeline!.digest() : contentHash.digest()
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
