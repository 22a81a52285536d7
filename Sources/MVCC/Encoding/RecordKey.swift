#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The order-preserving encoding of record keys in the records bucket: the user key with
/// every 0x00 byte escaped as 0x00 0xFF, a terminator 0x00 0x01, then the revision as 16
/// big-endian bytes. Byte order of encodings equals (user key, revision) order, so the
/// records of a key range `[start, end)` form the contiguous segment
/// `[prefix(start), prefix(end))` of the tree. Pure functions; owns nothing.
enum RecordKey {
    static let escape: UInt8 = 0x00
    static let escapedZero: UInt8 = 0xFF
    static let terminator: UInt8 = 0x01

    /// The escaped user key plus terminator: every record of `key` starts with it and sorts
    /// at or after it; every record of a smaller key sorts before it.
    static func prefix(_ key: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(key.count + 2 + Revision.encodedCount)
        appendPrefix(key, to: &out)
        return out
    }

    @inline(__always)
    static func appendPrefix(_ key: [UInt8], to out: inout [UInt8]) {
        for b in key {
            out.append(b)
            if b == escape { out.append(escapedZero) }
        }
        out.append(escape)
        out.append(terminator)
    }

    static func make(_ key: [UInt8], _ rev: Revision) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(key.count + 2 + Revision.encodedCount)
        appendPrefix(key, to: &out)
        rev.append(to: &out)
        return out
    }

    /// Calls `body` with the encoding of (`key`, `rev`) built in a stack buffer (no heap
    /// allocation for keys up to a few hundred bytes).
    @inline(__always)
    static func withEncoded<R>(_ key: [UInt8], _ rev: Revision, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(byteCount: 2 * key.count + 2 + Revision.encodedCount, alignment: 8) { buf in
            var n = 0
            for b in key {
                buf[n] = b
                n += 1
                if b == escape {
                    buf[n] = escapedZero
                    n += 1
                }
            }
            buf[n] = escape
            buf[n + 1] = terminator
            n += 2
            buf.storeBytes(of: UInt64(bitPattern: rev.main).bigEndian, toByteOffset: n, as: UInt64.self)
            buf.storeBytes(of: UInt64(bitPattern: rev.sub).bigEndian, toByteOffset: n + 8, as: UInt64.self)
            n += Revision.encodedCount
            return try body(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
    }

    /// Segment bounds in the records bucket for user keys `[start, end)` (`end` nil: no end).
    static func segment(start: [UInt8], end: [UInt8]?) -> (lo: [UInt8], hi: [UInt8]?) {
        (prefix(start), end.map(prefix))
    }

    /// Decodes a record key; nil when malformed.
    static func decode(_ raw: UnsafeRawBufferPointer) -> (key: [UInt8], rev: Revision)? {
        guard raw.count >= 2 + Revision.encodedCount else { return nil }
        let end = raw.count - Revision.encodedCount
        var key: [UInt8] = []
        key.reserveCapacity(end - 2)
        var i = 0
        while i < end {
            let b = raw[i]
            if b != escape {
                key.append(b)
                i += 1
                continue
            }
            guard i + 1 < end else { return nil }
            let next = raw[i + 1]
            if next == escapedZero {
                key.append(0)
                i += 2
            } else if next == terminator && i + 2 == end {
                return (key, Revision(decoding: raw, at: end))
            } else {
                return nil
            }
        }
        return nil
    }

    /// Compares an encoded record key with the encoding of (`key`, `rev`) without building it.
    @inline(__always)
    static func compare(_ raw: UnsafeRawBufferPointer, _ key: [UInt8], _ rev: Revision) -> Int {
        key.withUnsafeBytes { k in
            // A key without 0x00 bytes (the usual case) is its own escaped form: one memcmp.
            guard let kb = k.baseAddress, !containsZeroByte(k) else { return compareSlow(raw, key, rev) }
            let n = min(raw.count, k.count)
            if n > 0 {
                let r = memcmp(raw.baseAddress!, kb, n)
                if r != 0 { return r < 0 ? -1 : 1 }
            }
            if raw.count < k.count { return -1 }
            return compareTail(raw, from: k.count, rev)
        }
    }

    /// Whether `k` holds a 0x00 byte: eight bytes at a time (the classic "has a zero byte"
    /// word test), so short keys cost no libc call (perf: `memchr` was 7% of a range scan).
    @inline(__always)
    static func containsZeroByte(_ k: UnsafeRawBufferPointer) -> Bool {
        let n = k.count
        var i = 0
        while i + 8 <= n {
            let w = k.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if (w &- 0x0101_0101_0101_0101) & ~w & 0x8080_8080_8080_8080 != 0 { return true }
            i += 8
        }
        while i < n {
            if k[i] == 0 { return true }
            i += 1
        }
        return false
    }

    /// The terminator and revision part of `compare`, from position `start` of `raw` (the
    /// encoded user key before it is equal).
    @inline(__always)
    private static func compareTail(_ raw: UnsafeRawBufferPointer, from start: Int, _ rev: Revision) -> Int {
        let n = raw.count
        if n == start { return -1 }
        if raw[start] != escape { return raw[start] < escape ? -1 : 1 }
        if n == start + 1 { return -1 }
        if raw[start + 1] != terminator { return raw[start + 1] < terminator ? -1 : 1 }
        let i = start + 2
        if n - i < Revision.encodedCount { return -1 }
        let other = Revision(decoding: raw, at: i)
        if n - i > Revision.encodedCount && other == rev { return 1 }
        return other < rev ? -1 : (other == rev ? 0 : 1)
    }

    /// `compare` for any key (escapes 0x00 bytes on the fly).
    private static func compareSlow(_ raw: UnsafeRawBufferPointer, _ key: [UInt8], _ rev: Revision) -> Int {
        var i = 0
        let n = raw.count
        @inline(__always) func step(_ b: UInt8) -> Int? {
            if i == n { return -1 }
            let r = raw[i]
            i += 1
            return r == b ? nil : (r < b ? -1 : 1)
        }
        for b in key {
            if let c = step(b) { return c }
            if b == escape, let c = step(escapedZero) { return c }
        }
        if let c = step(escape) { return c }
        if let c = step(terminator) { return c }
        if n - i < Revision.encodedCount { return -1 }
        let other = Revision(decoding: raw, at: i)
        if n - i > Revision.encodedCount && other == rev { return 1 }
        return other < rev ? -1 : (other == rev ? 0 : 1)
    }

    /// Just the revision of an encoded record key (its last 16 bytes).
    @inline(__always)
    static func revision(_ raw: UnsafeRawBufferPointer) -> Revision {
        Revision(decoding: raw, at: raw.count - Revision.encodedCount)
    }

    /// Whether the encoded record key belongs to the user key whose `prefix` is given.
    @inline(__always)
    static func hasPrefix(_ raw: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard raw.count == prefix.count + Revision.encodedCount else { return false }
        return prefix.withUnsafeBytes { p in Bytes.compare(UnsafeRawBufferPointer(rebasing: raw[0..<p.count]), p) == 0 }
    }
}
