import Base
import RaftCore

/// One live segment: its open file and, per range, the highest entry index it holds
/// (what segment GC compares with each range's durably applied index).
struct SegmentInfo {
    let file: SegmentFile
    var maxIndex: [RangeID: UInt64] = [:]
    var seq: UInt64 { file.seq }
}

/// One append between `WALCore.prepareAppend` and `publish`: the encoded frame, the file
/// and offset it goes to, and the records (with their entries' offsets in the frame).
struct PreparedAppend: Sendable {
    let bytes: [UInt8]
    let file: SegmentFile
    let offset: Int
    let records: [WALRecord]
    let entryOffsets: [[Int]]
    /// Zeros to write past the frame first, `[zeroFrom, zeroTo)` (empty: none).
    var zeroFrom = 0, zeroTo = 0
}

/// The whole mutable state of the write-ahead log and its operations, run under the
/// `WriteAheadLog`'s lock. Owns the segment files and every range's log index.
struct WALCore {
    let directory: String
    let options: WALOptions
    /// Live segments in sequence order; the last one is the one being written.
    var segments: [SegmentInfo] = []
    /// Where the next frame goes in the active segment.
    var writeOffset = WALFormat.headerSize
    /// The active segment holds written bytes (frames or zeros) up to here: appends below it
    /// overwrite data blocks (`WALOptions.zeroAheadBytes`).
    var zeroedThrough = WALFormat.headerSize
    var ranges: [RangeID: RangeLogIndex] = [:]
    var stats = WALStats()
    var closed = false
    private var encoder = BinaryWriter(capacity: 1 << 16)
    private var entryOffsets: [[Int]] = []

    init(directory: String, options: WALOptions) {
        self.directory = directory
        self.options = options
    }

    @inline(__always) func fault(_ point: WALFaultPoint) throws(WALError) {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        if let hook = options.faultHook { try hook(point) }
        #endif
    }

    // MARK: applying records to the in-memory index

    /// Applies one record (just written, or replayed) to the range indexes.
    mutating func apply(_ record: WALRecord, entryFileOffsets: [Int], segmentIndex: Int) {
        switch record {
        case .entries(let range, let entries):
            guard let last = entries.last else { return }
            ranges[range, default: RangeLogIndex()].append(
                entries, offsets: entryFileOffsets, segment: segments[segmentIndex].seq,
                cacheLimitBytes: options.cacheBytesPerRange)
            let old = segments[segmentIndex].maxIndex[range] ?? 0
            segments[segmentIndex].maxIndex[range] = max(old, last.index)
        case .hardState(let range, let hs):
            ranges[range, default: RangeLogIndex()].hardState = hs
        case .compact(let range, let firstIndex, let term):
            ranges[range, default: RangeLogIndex()].compact(firstIndex: firstIndex, term: term)
        case .snapshotReset(let range, let index, let term):
            ranges[range, default: RangeLogIndex()].resetToSnapshot(index: index, term: term)
        case .rangeRemoved(let range):
            ranges[range] = nil
            for i in segments.indices { segments[i].maxIndex[range] = nil }
        case .seal:
            break
        }
    }

    // MARK: writing

    /// Encodes `records` as one frame into `encoder` (after what it holds), remembering
    /// each entry's offset relative to the encoder's start.
    private mutating func encodeFrame(_ records: [WALRecord]) {
        let frameStart = encoder.count
        encoder.write(UInt32(0))  // length, patched below
        encoder.write(UInt32(0))  // checksum, patched below
        encoder.write(UInt32(records.count))
        for record in records {
            if case .entries(let range, let entries) = record {
                encoder.write(WALRecordKind.entries.rawValue)
                encoder.write(range.rawValue)
                encoder.write(UInt32(entries.count))
                var offsets: [Int] = []
                offsets.reserveCapacity(entries.count)
                for e in entries {
                    offsets.append(encoder.count)
                    encoder.writeEntry(e)
                }
                entryOffsets.append(offsets)
            } else {
                encoder.writeRecord(record)
                entryOffsets.append([])
            }
        }
        let payloadStart = frameStart + WALFormat.frameHeaderSize
        let length = UInt32(encoder.count - payloadStart)
        let crc = encoder.bytes.withUnsafeBytes {
            WALFormat.frameChecksum(length: length, payload: UnsafeRawBufferPointer(rebasing: $0[payloadStart...]))
        }
        encoder.overwrite(length, at: frameStart)
        encoder.overwrite(crc, at: frameStart + 4)
        encoder.pad(toMultipleOf: WALFormat.alignment)
    }

    /// Writes `records` as one frame with one write and one fdatasync, rotating to a new
    /// segment first when the active one is full. Returns the number of entries written.
    /// (The whole append under the caller's lock: recovery and GC use this form.)
    mutating func append(_ records: [WALRecord]) throws(WALError) -> Int {
        guard let prepared = try prepareAppend(records) else { return 0 }
        let nanos: UInt64
        do throws(WALError) {
            nanos = try Self.writeAndSync(prepared, options: options)
        } catch {
            abandon(prepared)
            throw error
        }
        return publish(prepared, fsyncNanos: nanos)
    }

    /// First step of an append: encodes `records` as one frame, rotates to a new segment
    /// when the active one is full, and reserves the frame's place in the active segment.
    /// Nothing is written to the file and the range indexes do not change; the caller writes
    /// the frame (`writeAndSync`, without holding the core's lock) and then calls `publish`,
    /// or `abandon` if the write failed. One append at a time: `WriteAheadLog` serialises
    /// appenders with its writer lock.
    mutating func prepareAppend(_ records: [WALRecord]) throws(WALError) -> PreparedAppend? {
        guard !closed else { throw .closed }
        guard !records.isEmpty else { return nil }
        encoder.removeAll()
        entryOffsets.removeAll(keepingCapacity: true)
        encodeFrame(records)
        var written = records
        if writeOffset + encoder.count > options.segmentBytes && writeOffset > WALFormat.headerSize {
            try rotate()
            // The new segment starts with a checkpoint (hard states and log starts of every
            // range) so that older segments can be deleted without losing them.
            let checkpoint = checkpointRecords()
            if !checkpoint.isEmpty {
                encoder.removeAll()
                entryOffsets.removeAll(keepingCapacity: true)
                encodeFrame(checkpoint)
                encodeFrame(records)
                written = checkpoint + records
            }
        }
        let base = writeOffset
        writeOffset = base + encoder.count
        var prepared = PreparedAppend(bytes: encoder.bytes, file: segments[segments.count - 1].file, offset: base,
                                      records: written, entryOffsets: entryOffsets)
        if options.zeroAheadBytes > 0 && writeOffset > zeroedThrough {
            // The frame reaches past the written blocks: zero the next stretch with it, so
            // the following appends' fdatasyncs write data blocks only. Never below the frame's
            // end, so no byte of an earlier frame is touched.
            let zeroTo = min(options.segmentBytes, writeOffset + options.zeroAheadBytes)
            if zeroTo > writeOffset { (prepared.zeroFrom, prepared.zeroTo) = (writeOffset, zeroTo) }
            zeroedThrough = max(writeOffset, zeroTo)
        }
        return prepared
    }

    /// Second step: the one write and the one fdatasync (with the fault points around them).
    /// Touches no `WALCore` state, so it runs outside the core's lock: readers of the log
    /// (Raft's storage reads on the poll loop) do not wait for the disk. Returns the
    /// fdatasync's duration in nanoseconds.
    static func writeAndSync(_ p: PreparedAppend, options: WALOptions) throws(WALError) -> UInt64 {
        try faultPoint(.beforeWrite, options)
        if p.zeroTo > p.zeroFrom { try p.file.writeZeros(from: p.zeroFrom, to: p.zeroTo) }
        try p.file.write(p.bytes, at: p.offset)
        try faultPoint(.afterWriteBeforeSync, options)
        let start = ContinuousClock.now
        try p.file.sync()
        let elapsed = ContinuousClock.now - start
        try faultPoint(.afterSync, options)
        return UInt64(elapsed.components.seconds) * 1_000_000_000
            + UInt64(elapsed.components.attoseconds / 1_000_000_000)
    }

    /// Third step: the frame is durable; its records join the range indexes (readers see
    /// them from now on). Returns the number of entries written.
    mutating func publish(_ p: PreparedAppend, fsyncNanos nanos: UInt64) -> Int {
        let segmentIndex = segments.lastIndex { $0.seq == p.file.seq } ?? (segments.count - 1)
        var entries = 0
        for (i, record) in p.records.enumerated() {
            apply(record, entryFileOffsets: p.entryOffsets[i].map { $0 + p.offset }, segmentIndex: segmentIndex)
            if case .entries(_, let es) = record { entries += es.count }
        }
        stats.fsyncs += 1
        stats.entriesSynced += UInt64(entries)
        stats.bytesWritten += UInt64(p.bytes.count)
        if p.zeroTo > p.zeroFrom {
            stats.bytesZeroed += UInt64(p.zeroTo - p.zeroFrom)
            stats.zeroWrites += 1
        }
        stats.fsyncNanosTotal += nanos
        stats.lastFsyncNanos = nanos
        stats.fsyncDuration.observe(nanos)
        stats.entriesPerFsync.observe(UInt64(entries))
        return entries
    }

    /// The write of a prepared append failed: its reserved place is free again (the next
    /// append overwrites whatever part of it reached the file).
    mutating func abandon(_ p: PreparedAppend) {
        if writeOffset == p.offset + p.bytes.count && segments.last?.file.seq == p.file.seq {
            writeOffset = p.offset
            // Its zeros may not have been written: zero again from here next time.
            if p.zeroTo > p.zeroFrom { zeroedThrough = writeOffset }
        }
    }

    static func faultPoint(_ point: WALFaultPoint, _ options: WALOptions) throws(WALError) {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        if let hook = options.faultHook { try hook(point) }
        #endif
    }

    /// The records that make a new segment self-sufficient for every live range.
    func checkpointRecords() -> [WALRecord] {
        var out: [WALRecord] = []
        for (range, index) in ranges.sorted(by: { $0.key < $1.key }) {
            if !index.hardState.isEmpty { out.append(.hardState(range, index.hardState)) }
            if index.firstIndex > 1, let term = index.termBeforeFirst {
                out.append(.compact(range, firstIndex: index.firstIndex, term: term))
            }
        }
        return out
    }

    /// Seals the active segment (a seal frame, synced) and starts the next one.
    mutating func rotate() throws(WALError) {
        let active = segments[segments.count - 1]
        var seal = BinaryWriter(capacity: 64)
        seal.write(UInt32(0))
        seal.write(UInt32(0))
        seal.write(UInt32(1))
        seal.writeRecord(.seal(next: active.seq + 1))
        let length = UInt32(seal.count - WALFormat.frameHeaderSize)
        let crc = seal.bytes.withUnsafeBytes {
            WALFormat.frameChecksum(length: length, payload: UnsafeRawBufferPointer(rebasing: $0[WALFormat.frameHeaderSize...]))
        }
        seal.overwrite(length, at: 0)
        seal.overwrite(crc, at: 4)
        seal.pad(toMultipleOf: WALFormat.alignment)
        try fault(.beforeSeal)
        let offset = writeOffset
        try active.file.write(seal.bytes, at: offset)
        try active.file.sync()
        try fault(.afterSealBeforeCreate)
        try openNewSegment(seq: active.seq + 1)
    }

    /// Creates segment `seq` and makes it the active one.
    mutating func openNewSegment(seq: UInt64) throws(WALError) {
        let file = try SegmentFile.create(directory: directory, seq: seq,
                                          preallocateBytes: options.preallocate ? options.segmentBytes : 0)
        try fault(.afterSegmentCreate)
        segments.append(SegmentInfo(file: file))
        writeOffset = WALFormat.headerSize
        zeroedThrough = WALFormat.headerSize
        stats.segmentsCreated += 1
        stats.liveSegments = segments.count
    }
}
