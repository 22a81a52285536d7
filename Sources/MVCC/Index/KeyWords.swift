/// The first 16 bytes and the length of a key as integers, so that most key comparisons
/// in the index touch no key buffer. `prefix` is bytes 0..<8 and `tail` bytes 8..<16
/// (big-endian, zero-padded); `length` is the key's length, capped at `long` (17).
///
/// Order: `(prefix, tail)` compared as a pair is order-consistent (smaller pair ⇒ smaller
/// key: zero padding only ever makes a key that ends early look equal to a longer one it
/// is a prefix of). On a tie of both words, two keys of which at least one is at most 16
/// bytes long order by length (the shorter one is a prefix of the other, or they are equal);
/// only two longer keys need their bytes compared. Pure values; own nothing.
struct KeyWords: Equatable {
    var prefix: UInt64
    var tail: UInt64
    var length: UInt8

    /// The capped length of keys longer than 16 bytes (whose bytes past 16 are not here).
    static let long: UInt8 = 17

    init(prefix: UInt64, tail: UInt64, length: UInt8) {
        self.prefix = prefix
        self.tail = tail
        self.length = length
    }

    @inline(__always)
    init(_ key: [UInt8]) {
        (prefix, tail, length) = key.withUnsafeBytes { k in
            var p: UInt64 = 0, t: UInt64 = 0
            let n = k.count
            for i in 0..<min(8, n) { p |= UInt64(k[i]) << (56 - 8 * UInt64(i)) }
            if n > 8 { for i in 8..<min(16, n) { t |= UInt64(k[i]) << (120 - 8 * UInt64(i)) } }
            return (p, t, UInt8(min(n, Int(Self.long))))
        }
    }

    /// -1, 0 or 1 as a key with `prefix`/`tail`/`length` compares with this key once their
    /// prefixes are known to be equal; nil when only the keys' bytes can tell (both longer
    /// than 16 bytes and equal in their first 16).
    @inline(__always)
    func compareTail(_ tail: UInt64, _ length: UInt8) -> Int? {
        if tail != self.tail { return tail < self.tail ? -1 : 1 }
        if length <= 16 || self.length <= 16 { return length < self.length ? -1 : (length == self.length ? 0 : 1) }
        return nil
    }
}
