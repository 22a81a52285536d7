/// Keys of the write-buffer bucket (`mvcc.buffer`, `mvcc-format.md` "Write buffer"): the
/// record key with its 16-byte revision moved to the front, so the bucket is in revision
/// order (the puts of a commit append to its rightmost leaves) and every entry maps back to
/// exactly one record key. Pure byte shuffles; owns nothing.
enum BufferKey {
    static let revisionBytes = Revision.encodedCount

    /// Shortest record key: an empty user key's prefix (0x00 0x01) and the revision.
    static let minRecordKeyBytes = revisionBytes + 2

    /// The buffer key of record key `rk`.
    static func make(recordKey rk: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(rk.count >= minRecordKeyBytes, "not a record key")
        var out: [UInt8] = []
        out.reserveCapacity(rk.count)
        out.append(contentsOf: rk[(rk.count - revisionBytes)...])
        out.append(contentsOf: rk[..<(rk.count - revisionBytes)])
        return out
    }

    static func make(recordKey rk: [UInt8]) -> [UInt8] { rk.withUnsafeBytes { make(recordKey: $0) } }

    /// Calls `body` with the buffer key of `rk` built in a temporary buffer (no heap allocation
    /// for ordinary keys): the point-read path.
    @inline(__always)
    static func withBufferKey<R>(recordKey rk: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(rk.count >= minRecordKeyBytes, "not a record key")
        return try withUnsafeTemporaryAllocation(byteCount: rk.count, alignment: 8) { buf in
            let split = rk.count - revisionBytes
            buf.baseAddress!.copyMemory(from: rk.baseAddress! + split, byteCount: revisionBytes)
            (buf.baseAddress! + revisionBytes).copyMemory(from: rk.baseAddress!, byteCount: split)
            return try body(UnsafeRawBufferPointer(buf))
        }
    }

    /// The record key of buffer key `bk`.
    static func recordKey(_ bk: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bk.count)
        out.append(contentsOf: bk[revisionBytes...])
        out.append(contentsOf: bk[..<revisionBytes])
        return out
    }

    /// The main revision of record key `rk` (its last 16 bytes).
    @inline(__always)
    static func mainRevision(ofRecordKey rk: UnsafeRawBufferPointer) -> Int64 {
        Int64(bitPattern: readBigEndian(rk, at: rk.count - revisionBytes))
    }

    /// The main revision of buffer key `bk` (its first 16 bytes).
    @inline(__always)
    static func mainRevision(ofBufferKey bk: UnsafeRawBufferPointer) -> Int64 {
        Int64(bitPattern: readBigEndian(bk, at: 0))
    }
}
