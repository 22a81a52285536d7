#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-string helpers shared by the index and the encodings: lexicographic comparison
/// (etcd's `bytes.Compare`) without allocation.
enum Bytes {
    /// -1, 0 or 1 as `a` sorts before, equal to or after `b` (unsigned bytes, shorter prefix first).
    @inline(__always)
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                compare(UnsafeRawBufferPointer(pa), UnsafeRawBufferPointer(pb))
            }
        }
    }

    @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        if n > 0 {
            let r = memcmp(a.baseAddress!, b.baseAddress!, n)
            if r != 0 { return r < 0 ? -1 : 1 }
        }
        return a.count < b.count ? -1 : (a.count == b.count ? 0 : 1)
    }

    @inline(__always)
    static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { compare(a, b) < 0 }

    /// Whether `key` lies in `[start, end)`; `end == nil` means unbounded.
    @inline(__always)
    static func within(_ key: [UInt8], start: [UInt8], end: [UInt8]?) -> Bool {
        if compare(key, start) < 0 { return false }
        if let end, compare(key, end) >= 0 { return false }
        return true
    }
}
