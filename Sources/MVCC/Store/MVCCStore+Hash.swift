/// HashKV: a digest of the range's MVCC state up to a revision, equal on replicas that
/// applied the same commands whatever their compaction progress or commit timing.
extension MVCCStore {
    /// Hashes every indexed record with main revision `<= revision` (0: current), skipping
    /// records at or below the compacted revision except the ones compaction keeps — the
    /// set etcd's `HashByRev` covers. FNV-1a over (encoded record key, record value), folded
    /// to 32 bits.
    public func hashKV(atRevision revision: Int64 = 0) throws -> HashKVResponse {
        try withState { s, rtx in
            if revision > s.currentRevision { throw MVCCError.futureRevision }
            let rev = revision <= 0 ? s.currentRevision : revision
            if revision > 0 && rev < s.compactedRevision { throw MVCCError.compacted }
            let compacted = s.compactedRevision
            var hash = FNV1a()
            var failure: (any Error)?
            s.index.forEach { ki in
                let kept = compacted > 0 ? ki.kept(atRev: compacted) : nil
                do {
                    try ki.forEachRevision { r, _ in
                        guard r.main <= rev, r.main > compacted || r == kept else { return }
                        let rk = RecordKey.make(ki.key, r)
                        hash.add(rk)
                        try s.withRecord(ki.key, r, rtx) { raw in
                            if let raw { hash.add(raw) } else { hash.add([0xFF]) }
                        }
                    }
                } catch {
                    failure = error
                    return false
                }
                return true
            }
            if let failure { throw failure }
            return HashKVResponse(hash: hash.folded, compactRevision: compacted, revision: s.currentRevision)
        }
    }
}

/// 64-bit FNV-1a, length-delimited per field.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var n = UInt64(bytes.count)
        for _ in 0..<8 {
            step(UInt8(truncatingIfNeeded: n))
            n >>= 8
        }
        for b in bytes { step(b) }
    }

    mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }

    @inline(__always)
    private mutating func step(_ b: UInt8) {
        value ^= UInt64(b)
        value = value &* 0x0000_0100_0000_01b3
    }

    var folded: UInt32 { UInt32(truncatingIfNeeded: value ^ (value >> 32)) }
}
