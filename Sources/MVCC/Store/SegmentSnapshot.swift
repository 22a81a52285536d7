public import Base

/// The byte stream of a range snapshot: a sequence of chunks, each a whole number of
/// frames, suitable for LZ4 framing and a streaming RPC. Frames:
/// - header `[0x01]["FLSG"][u16 version][u64 rangeID][bytes start][u8 hasEnd][bytes end]`
///   `[u64 appliedIndex][i64 currentRevision][i64 compactedRevision][bytes descriptor]`,
///   version 2 then `[bytes revokedLeases]` (written only when that record is not empty,
///   so a range without one streams exactly as version 1)
/// - record `[0x02][bytes recordKey][bytes recordValue]` in record-key order
/// - trailer `[0x03][u64 recordCount][u64 FNV-1a of the record frames]`
/// (`bytes` = u32 BE length + bytes). Pure encoding/decoding; owns nothing.
public enum SegmentSnapshot {
    static let magic: [UInt8] = Array("FLSG".utf8)
    static let version: UInt16 = 1
    /// The header version carrying the revoked-lease record.
    static let versionWithRevokedLeases: UInt16 = 2

    /// The metadata a snapshot carries.
    public struct Header: Equatable, Sendable {
        public var rangeID: RangeID
        public var start: [UInt8]
        public var end: [UInt8]?
        public var appliedIndex: UInt64
        public var currentRevision: Int64
        public var compactedRevision: Int64
        public var descriptor: [UInt8]
        /// The Node layer's revoked-lease record (opaque; empty in version-1 headers).
        public var revokedLeases: [UInt8] = []
    }

    static func encode(_ h: Header) -> [UInt8] {
        var out: [UInt8] = [0x01]
        out += magic
        let v = h.revokedLeases.isEmpty ? version : versionWithRevokedLeases
        out += [UInt8(v >> 8), UInt8(v & 0xFF)]
        appendBigEndian(h.rangeID.rawValue, to: &out)
        appendBytes(h.start, to: &out)
        out.append(h.end == nil ? 0 : 1)
        appendBytes(h.end ?? [], to: &out)
        appendBigEndian(h.appliedIndex, to: &out)
        appendBigEndian(UInt64(bitPattern: h.currentRevision), to: &out)
        appendBigEndian(UInt64(bitPattern: h.compactedRevision), to: &out)
        appendBytes(h.descriptor, to: &out)
        if v == versionWithRevokedLeases { appendBytes(h.revokedLeases, to: &out) }
        return out
    }

    /// Decodes a whole stream (the chunks in order) into its header and records, checking
    /// frame structure, record order, the count and the checksum.
    static func decode(_ chunks: some Sequence<[UInt8]>) throws(MVCCError) -> (Header, [([UInt8], [UInt8])]) {
        var decoder = Decoder()
        var records: [([UInt8], [UInt8])] = []
        for chunk in chunks {
            try decoder.feed(chunk) { (_: Header) throws(MVCCError) in } record: { (k, v) throws(MVCCError) in records.append((Array(k), Array(v))) }
        }
        let header = try decoder.finish()
        return (header, records)
    }

    /// The header of a stream from its first chunk (nil when the chunk does not start with
    /// a well-formed header frame).
    public static func peekHeader(_ firstChunk: [UInt8]) -> Header? {
        var r = ByteReader(firstChunk)
        guard r.u8() == 0x01 else { return nil }
        return try? Decoder.header(&r, firstChunk)
    }

    /// Incremental validation of a stream, chunk by chunk: frame structure, one header
    /// first, records in strictly increasing key order, the trailer's count and checksum,
    /// nothing after the trailer. Chunks may split frames anywhere (an LZ4 decoder's output
    /// or a file read in fixed pieces): an incomplete frame at a chunk's end is kept until
    /// the next chunk completes it. Holds only that partial frame, the previous record key
    /// and the running sums.
    struct Decoder {
        private(set) var header: Header?
        private var previousKey: [UInt8]?
        private var checksum = FNV1a()
        private var count: UInt64 = 0
        private var finished = false
        /// The start of a frame that the chunks fed so far did not complete.
        private var pending: [UInt8] = []
        /// A declared frame larger than this is corruption, not a frame to wait for.
        static let frameBytesMax = 256 << 20

        static func header(_ r: inout ByteReader, _ chunk: [UInt8]) throws(MVCCError) -> Header {
            guard r.remaining >= 6, Array(chunk[r.offset..<r.offset + 4]) == magic else {
                throw .corruptSnapshot("bad magic")
            }
            r.offset += 4
            let v = UInt16(r.u8()!) << 8 | UInt16(r.u8()!)
            guard v == version || v == versionWithRevokedLeases else { throw .corruptSnapshot("unknown version \(v)") }
            guard let id = r.u64(), let start = r.bytes(), let hasEnd = r.u8(), let end = r.bytes(),
                let applied = r.u64(), let cur = r.u64(), let comp = r.u64(), let desc = r.bytes()
            else { throw .corruptSnapshot("truncated header") }
            var revoked: [UInt8] = []
            if v == versionWithRevokedLeases {
                guard let bytes = r.bytes() else { throw .corruptSnapshot("truncated header") }
                revoked = bytes
            }
            return Header(
                rangeID: RangeID(id), start: start, end: hasEnd == 0 ? nil : end, appliedIndex: applied,
                currentRevision: Int64(bitPattern: cur), compactedRevision: Int64(bitPattern: comp),
                descriptor: desc, revokedLeases: revoked)
        }

        /// The length of the frame starting at `offset`, or nil when `buffer` ends before
        /// the frame does. An unknown kind answers 1 (the caller rejects it).
        static func frameLength(_ buffer: [UInt8], at offset: Int) throws(MVCCError) -> Int? {
            var n = 0  // bytes of the frame known so far
            func has(_ more: Int) -> Bool { offset + n + more <= buffer.count }
            func lengthField() -> Int? {  // a u32 length, counted with the bytes it announces
                guard has(4) else { return nil }
                var v = 0
                for i in 0..<4 { v = v << 8 | Int(buffer[offset + n + i]) }
                n += 4 + v
                return v
            }
            switch buffer[offset] {
            case 0x01:
                n = 1 + 4 + 2 + 8
                guard lengthField() != nil else { return nil }  // start
                n += 1
                guard lengthField() != nil else { return nil }  // end
                n += 24
                guard lengthField() != nil else { return nil }  // descriptor
                if has(0), offset + 7 <= buffer.count,
                   UInt16(buffer[offset + 5]) << 8 | UInt16(buffer[offset + 6]) == versionWithRevokedLeases {
                    guard lengthField() != nil else { return nil }  // revoked leases
                }
            case 0x02:
                n = 1
                guard lengthField() != nil, lengthField() != nil else { return nil }
            case 0x03:
                n = 17
            default:
                return 1
            }
            guard n <= frameBytesMax else { throw .corruptSnapshot("frame of \(n) bytes") }
            return offset + n <= buffer.count ? n : nil
        }

        /// Validates the frames of `chunk`, calling `onHeader` for the header and `record`
        /// for each record (bytes valid only during the call) in stream order.
        mutating func feed(
            _ chunk: [UInt8], header onHeader: (Header) throws(MVCCError) -> Void,
            record: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(MVCCError) -> Void
        ) throws(MVCCError) {
            let buffer: [UInt8]
            if pending.isEmpty {
                buffer = chunk
            } else {
                pending.append(contentsOf: chunk)
                buffer = pending
                pending = []
            }
            var r = ByteReader(buffer)
            while !r.atEnd {
                if finished { throw .corruptSnapshot("data after the trailer") }
                guard try Self.frameLength(buffer, at: r.offset) != nil else {
                    pending = Array(buffer[r.offset...])
                    return
                }
                let frameStart = r.offset
                switch r.u8() {
                case 0x01:
                    guard header == nil else { throw .corruptSnapshot("second header") }
                    let h = try Self.header(&r, buffer)
                    header = h
                    try onHeader(h)
                case 0x02:
                    guard header != nil else { throw .corruptSnapshot("record before header") }
                    guard let kn = r.u32(), r.remaining >= Int(kn) else { throw .corruptSnapshot("truncated record") }
                    let kStart = r.offset
                    r.offset += Int(kn)
                    guard let vn = r.u32(), r.remaining >= Int(vn) else { throw .corruptSnapshot("truncated record") }
                    let vStart = r.offset
                    r.offset += Int(vn)
                    let frameEnd = r.offset
                    let failure = buffer.withUnsafeBytes { (all: UnsafeRawBufferPointer) -> MVCCError? in
                        let k = UnsafeRawBufferPointer(rebasing: all[kStart..<kStart + Int(kn)])
                        let v = UnsafeRawBufferPointer(rebasing: all[vStart..<vStart + Int(vn)])
                        if let previousKey, previousKey.withUnsafeBytes({ Bytes.compare($0, k) }) >= 0 {
                            return .corruptSnapshot("records out of order")
                        }
                        previousKey = Array(k)
                        checksum.add(UnsafeRawBufferPointer(rebasing: all[frameStart..<frameEnd]))
                        count += 1
                        do throws(MVCCError) { try record(k, v) } catch { return error }
                        return nil
                    }
                    if let failure { throw failure }
                case 0x03:
                    guard let n = r.u64(), let sum = r.u64() else { throw .corruptSnapshot("truncated trailer") }
                    guard n == count else { throw .corruptSnapshot("record count mismatch") }
                    guard sum == checksum.value else { throw .corruptSnapshot("checksum mismatch") }
                    finished = true
                default:
                    throw .corruptSnapshot("unknown frame")
                }
            }
        }

        /// The header, once the whole stream was fed; throws when it had no header or no
        /// trailer.
        func finish() throws(MVCCError) -> Header {
            guard let header else { throw .corruptSnapshot("no header") }
            guard finished else { throw .corruptSnapshot("no trailer (truncated stream)") }
            return header
        }
    }
}

extension MVCCStore {
    /// Streams the range's committed state (metadata and its segment's records in order)
    /// as chunks of about `chunkBytes`, read from one consistent snapshot of the file.
    /// Pending (uncommitted) writes are not included: the header's applied index says
    /// which state the stream holds.
    public func writeSnapshot(chunkBytes: Int = 1 << 20, _ emit: ([UInt8]) throws -> Void) throws {
        let (start, end) = bounds
        let id = rangeID
        try backend.view { rtx in
            // Metadata only: `RangeState.load` would rebuild the whole index (a second scan
            // and memory proportional to the range) just to read these fields.
            let s = try RangeState.loadHeader(rangeID: id, rtx)
            guard s.start == start, s.end == end else { throw MVCCError.corruptMetadata("bounds changed") }
            let header = s
            var chunk = SegmentSnapshot.encode(header)
            var checksum = FNV1a()
            var count: UInt64 = 0
            var emitError: (any Error)?
            let (lo, hi) = RecordKey.segment(start: s.start, end: s.end)
            try rtx.scan(.records, from: lo, to: hi, reverse: false) { k, v in
                let frameStart = chunk.count
                chunk.append(0x02)
                appendBytes(Array(k), to: &chunk)
                appendBytes(Array(v), to: &chunk)
                chunk.withUnsafeBytes { checksum.add(UnsafeRawBufferPointer(rebasing: $0[frameStart...])) }
                count += 1
                if chunk.count >= chunkBytes {
                    do { try emit(chunk) } catch { emitError = error; return false }
                    chunk.removeAll(keepingCapacity: true)
                }
                return true
            }
            if let emitError { throw emitError }
            chunk.append(0x03)
            appendBigEndian(count, to: &chunk)
            appendBigEndian(checksum.value, to: &chunk)
            try emit(chunk)
        }
    }

    /// Replaces whatever the file holds for the snapshot's key span and range ID with the
    /// streamed segment, atomically (one file transaction), and opens the range.
    ///
    /// Streaming: each chunk is validated and its records written as it arrives (`chunks`
    /// may be a lazy sequence that receives them); a malformed stream, a bad checksum or a
    /// truncated stream throws and rolls the transaction back, leaving the file as it was.
    /// Memory beyond the file transaction's own pages: one chunk and the history / lease
    /// keys (revision + user key per record), which are sorted and written after the
    /// records so that they append instead of landing at random places.
    public static func ingestSnapshot(backend: any MVCCBackend, chunks: some Sequence<[UInt8]>) throws -> MVCCStore {
        let header: SegmentSnapshot.Header = try backend.update { wtx in
            var decoder = SegmentSnapshot.Decoder()
            var lo: [UInt8] = []
            var hi: [UInt8]?
            var history: [[UInt8]] = []
            var leases: [[UInt8]] = []
            var latestLease: [UInt8]?  // lease attachment of the current key's newest record
            var previousKey: [UInt8]?
            var failure: (any Error)?
            for chunk in chunks {
                try decoder.feed(chunk) { (h: SegmentSnapshot.Header) throws(MVCCError) in
                    (lo, hi) = RecordKey.segment(start: h.start, end: h.end)
                    do { try deleteSegment(start: h.start, end: h.end, rangeID: h.rangeID, wtx) } catch {
                        failure = error
                        throw .corruptSnapshot("ingest aborted")
                    }
                } record: { (k, v) throws(MVCCError) in
                    guard lo.withUnsafeBytes({ Bytes.compare(k, $0) }) >= 0, hi.map({ $0.withUnsafeBytes { Bytes.compare(k, $0) < 0 } }) ?? true else {
                        throw .corruptSnapshot("record outside the range")
                    }
                    guard let (key, rev) = RecordKey.decode(k) else { throw .corruptSnapshot("malformed record key") }
                    do { try wtx.putInOrder(.records, Array(k), Array(v)) } catch {
                        failure = error
                        throw .corruptSnapshot("ingest aborted")
                    }
                    history.append(HistoryKey.make(rev, key))
                    if key != previousKey, let l = latestLease { leases.append(l) }
                    previousKey = key
                    let lease = RecordValue.decodePut(key: key, rev: rev, v, withValue: false)?.lease ?? 0
                    latestLease = lease == 0 ? nil : LeaseKey.make(lease, key)
                }
                if let failure { throw failure }
            }
            let h = try decoder.finish()
            if let l = latestLease { leases.append(l) }
            history.sort(by: Bytes.less)
            for k in history { try wtx.put(.history, k, []) }
            leases.sort(by: Bytes.less)
            for k in leases { try wtx.put(.leases, k, []) }
            var s = RangeState(
                rangeID: h.rangeID, start: h.start, end: h.end, descriptor: h.descriptor,
                appliedIndex: h.appliedIndex, currentRevision: h.currentRevision,
                compactedRevision: h.compactedRevision, index: BTree<KeyIndex>())
            s.revokedLeases = h.revokedLeases
            try s.writeMeta(wtx, full: true)
            return h
        }
        return try open(backend: backend, rangeID: header.rangeID)
    }
}
