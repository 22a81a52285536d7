public import Base

/// The byte stream of a range snapshot: a sequence of chunks, each a whole number of
/// frames, suitable for LZ4 framing and a streaming RPC. Frames:
/// - header `[0x01]["FLSG"][u16 version][u64 rangeID][bytes start][u8 hasEnd][bytes end]`
///   `[u64 appliedIndex][i64 currentRevision][i64 compactedRevision][bytes descriptor]`
/// - record `[0x02][bytes recordKey][bytes recordValue]` in record-key order
/// - trailer `[0x03][u64 recordCount][u64 FNV-1a of the record frames]`
/// (`bytes` = u32 BE length + bytes). Pure encoding/decoding; owns nothing.
public enum SegmentSnapshot {
    static let magic: [UInt8] = Array("FLSG".utf8)
    static let version: UInt16 = 1

    /// The metadata a snapshot carries.
    public struct Header: Equatable, Sendable {
        public var rangeID: RangeID
        public var start: [UInt8]
        public var end: [UInt8]?
        public var appliedIndex: UInt64
        public var currentRevision: Int64
        public var compactedRevision: Int64
        public var descriptor: [UInt8]
    }

    static func encode(_ h: Header) -> [UInt8] {
        var out: [UInt8] = [0x01]
        out += magic
        out += [UInt8(version >> 8), UInt8(version & 0xFF)]
        appendBigEndian(h.rangeID.rawValue, to: &out)
        appendBytes(h.start, to: &out)
        out.append(h.end == nil ? 0 : 1)
        appendBytes(h.end ?? [], to: &out)
        appendBigEndian(h.appliedIndex, to: &out)
        appendBigEndian(UInt64(bitPattern: h.currentRevision), to: &out)
        appendBigEndian(UInt64(bitPattern: h.compactedRevision), to: &out)
        appendBytes(h.descriptor, to: &out)
        return out
    }

    /// Decodes a whole stream (the chunks in order) into its header and records, checking
    /// frame structure, record order, the count and the checksum.
    static func decode(_ chunks: some Sequence<[UInt8]>) throws(MVCCError) -> (Header, [([UInt8], [UInt8])]) {
        var header: Header?
        var records: [([UInt8], [UInt8])] = []
        var checksum = FNV1a()
        var finished = false
        for chunk in chunks {
            var r = ByteReader(chunk)
            while !r.atEnd {
                if finished { throw .corruptSnapshot("data after the trailer") }
                let frameStart = r.offset
                switch r.u8() {
                case 0x01:
                    guard header == nil else { throw .corruptSnapshot("second header") }
                    guard r.remaining >= 6, Array(chunk[r.offset..<r.offset + 4]) == magic else {
                        throw .corruptSnapshot("bad magic")
                    }
                    r.offset += 4
                    let v = UInt16(r.u8()!) << 8 | UInt16(r.u8()!)
                    guard v == version else { throw .corruptSnapshot("unknown version \(v)") }
                    guard let id = r.u64(), let start = r.bytes(), let hasEnd = r.u8(), let end = r.bytes(),
                        let applied = r.u64(), let cur = r.u64(), let comp = r.u64(), let desc = r.bytes()
                    else { throw .corruptSnapshot("truncated header") }
                    header = Header(
                        rangeID: RangeID(id), start: start, end: hasEnd == 0 ? nil : end, appliedIndex: applied,
                        currentRevision: Int64(bitPattern: cur), compactedRevision: Int64(bitPattern: comp),
                        descriptor: desc)
                case 0x02:
                    guard header != nil else { throw .corruptSnapshot("record before header") }
                    guard let k = r.bytes(), let v = r.bytes() else { throw .corruptSnapshot("truncated record") }
                    if let last = records.last, Bytes.compare(last.0, k) >= 0 {
                        throw .corruptSnapshot("records out of order")
                    }
                    chunk.withUnsafeBytes { checksum.add(UnsafeRawBufferPointer(rebasing: $0[frameStart..<r.offset])) }
                    records.append((k, v))
                case 0x03:
                    guard let n = r.u64(), let sum = r.u64() else { throw .corruptSnapshot("truncated trailer") }
                    guard n == UInt64(records.count) else { throw .corruptSnapshot("record count mismatch") }
                    guard sum == checksum.value else { throw .corruptSnapshot("checksum mismatch") }
                    finished = true
                default:
                    throw .corruptSnapshot("unknown frame")
                }
            }
        }
        guard let header else { throw .corruptSnapshot("no header") }
        guard finished else { throw .corruptSnapshot("no trailer (truncated stream)") }
        return (header, records)
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
            let s = try RangeState.load(rangeID: id, rtx)
            guard s.start == start, s.end == end else { throw MVCCError.corruptMetadata("bounds changed") }
            let header = SegmentSnapshot.Header(
                rangeID: id, start: s.start, end: s.end, appliedIndex: s.appliedIndex,
                currentRevision: s.currentRevision, compactedRevision: s.compactedRevision, descriptor: s.descriptor)
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
    /// streamed segment, atomically (one file transaction), and opens the range. The
    /// stream is validated completely before anything is written.
    public static func ingestSnapshot(backend: any MVCCBackend, chunks: some Sequence<[UInt8]>) throws -> MVCCStore {
        let (h, records) = try SegmentSnapshot.decode(chunks)
        let (lo, hi) = RecordKey.segment(start: h.start, end: h.end)
        for (k, _) in records {
            guard Bytes.compare(k, lo) >= 0, hi.map({ Bytes.compare(k, $0) < 0 }) ?? true else {
                throw MVCCError.corruptSnapshot("record outside the range")
            }
        }
        try backend.update { wtx in
            try deleteSegment(start: h.start, end: h.end, rangeID: h.rangeID, wtx)
            var latestLease: [UInt8]?  // lease attachment of the current key's newest record
            var previousKey: [UInt8]?
            for (k, v) in records {
                try wtx.put(.records, k, v)
                guard let (key, rev) = k.withUnsafeBytes({ RecordKey.decode($0) }) else {
                    throw MVCCError.corruptSnapshot("malformed record key")
                }
                try wtx.put(.history, HistoryKey.make(rev, key), [])
                if key != previousKey, let l = latestLease { try wtx.put(.leases, l, []) }
                previousKey = key
                let lease = v.withUnsafeBytes { raw -> Int64 in
                    guard let kv = RecordValue.decodePut(key: key, rev: rev, raw, withValue: false) else { return 0 }
                    return kv.lease
                }
                latestLease = lease == 0 ? nil : LeaseKey.make(lease, key)
            }
            if let l = latestLease { try wtx.put(.leases, l, []) }
            let s = RangeState(
                rangeID: h.rangeID, start: h.start, end: h.end, descriptor: h.descriptor,
                appliedIndex: h.appliedIndex, currentRevision: h.currentRevision,
                compactedRevision: h.compactedRevision, index: BTree<KeyIndex>())
            try s.writeMeta(wtx, full: true)
        }
        return try open(backend: backend, rangeID: h.rangeID)
    }
}
