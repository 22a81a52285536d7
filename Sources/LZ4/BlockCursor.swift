/// Tracks, independently of liblz4, where the current data block of an LZ4 frame
/// ends in the compressed stream, so `LZ4FrameDecompressor` can hand liblz4 at most
/// one block per `LZ4F_decompress` call.
///
/// Why: given input past the end of a block it has just decoded into a full output
/// buffer, liblz4 goes on to decode the next block into its own internal buffer and
/// copies it out on the following call, one extra copy of every block. Fed one block
/// at a time, it decodes each block straight into the caller's memory.
///
/// Owns only the position inside the block framing: the 4-byte block size field
/// (high bit: stored uncompressed; zero: the end mark), the block data and its
/// optional 4-byte block checksum, and everything after the end mark (the content
/// checksum, and any trailing bytes the decompressor rejects). The cursor never
/// validates anything: a size liblz4 rejects makes liblz4 throw, and the cursor only
/// has to stay in bounds, which it does for any 32-bit field value.
struct BlockCursor {
    private enum Position: Equatable {
        /// Collecting the block size field; `have` of its 4 bytes seen, little-endian in `partial`.
        case blockSize(partial: UInt32, have: Int)
        /// Inside a block's data (and block checksum); `remaining` bytes to its end, at least 1.
        case blockData(remaining: Int)
        /// After the end mark: no more blocks.
        case afterEndMark
    }

    private var position = Position.blockSize(partial: 0, have: 0)
    /// 4 when every block is followed by a block checksum.
    private let blockChecksumBytes: Int

    /// A cursor standing at the first block of a frame whose header was just read.
    init(blockChecksums: Bool) {
        blockChecksumBytes = blockChecksums ? 4 : 0
    }

    /// How many leading bytes of `input` (the compressed bytes right after those
    /// already passed to `advance`) can go to liblz4 without reaching past the end of
    /// the current block. At least 1 when `input` is not empty.
    func limit(_ input: UnsafeRawBufferPointer) -> Int {
        switch position {
        case .afterEndMark:
            return input.count
        case .blockData(let remaining):
            return min(remaining, input.count)
        case .blockSize(var field, let have):
            let needed = 4 - have
            guard input.count >= needed else { return input.count }
            for index in 0..<needed { field |= UInt32(input[index]) << (8 * (have + index)) }
            if field == 0 { return input.count }
            return min(needed + bodyBytes(field), input.count)
        }
    }

    /// How many leading bytes of `input` liblz4 can read without reaching any block
    /// data, for a caller with no output room: a partial size field, the end mark and
    /// everything after it. 0 when the next bytes are (or complete the size field of)
    /// a data block, so that block is later decoded in place rather than buffered.
    func limitBeforeData(_ input: UnsafeRawBufferPointer) -> Int {
        switch position {
        case .afterEndMark:
            return input.count
        case .blockData:
            return 0
        case .blockSize:
            return isEndMark(input) ? input.count : partialFieldBytes(input)
        }
    }

    /// True when `input` completes the current size field and it is the end mark.
    private func isEndMark(_ input: UnsafeRawBufferPointer) -> Bool {
        guard case .blockSize(var field, let have) = position, input.count >= 4 - have else { return false }
        for index in 0..<(4 - have) { field |= UInt32(input[index]) << (8 * (have + index)) }
        return field == 0
    }

    /// `input.count` when it is too short to complete the current size field, else 0.
    private func partialFieldBytes(_ input: UnsafeRawBufferPointer) -> Int {
        guard case .blockSize(_, let have) = position else { return 0 }
        return input.count < 4 - have ? input.count : 0
    }

    /// Moves past `consumed`, the bytes liblz4 just read.
    mutating func advance(over consumed: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < consumed.count {
            switch position {
            case .afterEndMark:
                return
            case .blockData(let remaining):
                let step = min(remaining, consumed.count - offset)
                offset += step
                position = step == remaining ? .blockSize(partial: 0, have: 0) : .blockData(remaining: remaining - step)
            case .blockSize(var field, var have):
                while have < 4 && offset < consumed.count {
                    field |= UInt32(consumed[offset]) << (8 * have)
                    have += 1
                    offset += 1
                }
                if have < 4 {
                    position = .blockSize(partial: field, have: have)
                } else if field == 0 {
                    position = .afterEndMark
                } else {
                    let body = bodyBytes(field)
                    position = body == 0 ? .blockSize(partial: 0, have: 0) : .blockData(remaining: body)
                }
            }
        }
    }

    /// True once the end mark has been passed.
    var isAfterEndMark: Bool { position == .afterEndMark }

    /// Bytes of data plus block checksum that follow a (non-zero) block size field.
    private func bodyBytes(_ field: UInt32) -> Int {
        Int(field & 0x7FFF_FFFF) + blockChecksumBytes
    }
}
