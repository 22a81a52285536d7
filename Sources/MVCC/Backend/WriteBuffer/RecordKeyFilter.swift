/// A Bloom filter over the record keys a write buffer may hold (session 14): a negative
/// answer means the record is certainly not in `mvcc.buffer`, so a point read looks it up in
/// the records tree alone instead of probing the buffer first (a cold descent of the buffer
/// for the ~90% of reads whose record was flushed long ago). Immutable once built, so readers
/// use it without a lock after taking a reference; a commit publishes a new one
/// (`adding(_:rebuildingFrom:)`) before its records become visible. About 12–24 bits per key,
/// 6 probes, all in one 64-byte block chosen by the key's first hash (a blocked Bloom filter:
/// one cache miss per lookup instead of up to six; ~0.2–0.5% false positives at these
/// sizes). Owns its bit array only.
final class RecordKeyFilter: Sendable {
    /// Bit count − 1 (a power of two − 1).
    private let mask: UInt64
    private let words: [UInt64]
    /// Keys added (for sizing).
    let count: Int

    static let probes = 6
    static let bitsPerKey = 12
    static let empty = RecordKeyFilter(capacity: 0)

    private init(mask: UInt64, words: [UInt64], count: Int) {
        self.mask = mask
        self.words = words
        self.count = count
    }

    /// An empty filter sized for `capacity` keys.
    convenience init(capacity: Int) {
        let bits = Self.bitCount(for: capacity)
        self.init(mask: UInt64(bits - 1), words: [UInt64](repeating: 0, count: bits / 64), count: 0)
    }

    /// A filter of `keys`, sized for at least `capacity` keys.
    static func build(_ keys: some Collection<[UInt8]>, capacity: Int = 0) -> RecordKeyFilter {
        let bits = bitCount(for: max(capacity, keys.count))
        var words = [UInt64](repeating: 0, count: bits / 64)
        let mask = UInt64(bits - 1)
        for k in keys { k.withUnsafeBytes { set(&words, mask, $0) } }
        return RecordKeyFilter(mask: mask, words: words, count: keys.count)
    }

    static func bitCount(for keys: Int) -> Int {
        var bits = 1024
        while bits < keys * bitsPerKey { bits <<= 1 }
        return bits
    }

    /// This filter plus `keys`, or — when that would exceed its size — a filter rebuilt from
    /// `all()` (every key the result must hold) with room to double.
    func adding(_ keys: [[UInt8]], rebuildingFrom all: () -> [[UInt8]]) -> RecordKeyFilter {
        if keys.isEmpty { return self }
        let total = count + keys.count
        if total * Self.bitsPerKey > Int(mask) + 1 {
            let everything = all()
            return Self.build(everything, capacity: 2 * everything.count)
        }
        var words = self.words
        for k in keys { k.withUnsafeBytes { Self.set(&words, mask, $0) } }
        return RecordKeyFilter(mask: mask, words: words, count: total)
    }

    /// False: `rk` was never added. True: it may have been.
    @inline(__always)
    func mayContain(_ rk: UnsafeRawBufferPointer) -> Bool {
        if count == 0 { return false }
        let (h1, h2) = Self.hashes(rk)
        let block = Self.block(h1, mask)
        return words.withUnsafeBufferPointer { w in
            var h = h2
            for _ in 0..<Self.probes {
                let bit = h & 511  // a bit of the block's 512
                if w[block + Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
                h >>= 9
            }
            return true
        }
    }

    /// The first word of `h1`'s 512-bit block.
    @inline(__always)
    private static func block(_ h1: UInt64, _ mask: UInt64) -> Int { Int((h1 & mask) >> 9) << 3 }

    private static func set(_ words: inout [UInt64], _ mask: UInt64, _ rk: UnsafeRawBufferPointer) {
        let (h1, h2) = hashes(rk)
        let block = block(h1, mask)
        var h = h2
        for _ in 0..<probes {
            let bit = h & 511
            words[block + Int(bit >> 6)] |= 1 << (bit & 63)
            h >>= 9
        }
    }

    /// Two 64-bit hashes of `b` (a multiply-xorshift over 8-byte words): the block, and 6 × 9 bits in it.
    @inline(__always)
    static func hashes(_ b: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(b.count)
        var i = 0
        while i + 8 <= b.count {
            h = mix(h ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        if i < b.count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < b.count {
                tail |= UInt64(b[i]) << shift
                shift += 8
                i += 1
            }
            h = mix(h ^ tail)
        }
        let h2 = mix(h ^ 0xC2B2_AE3D_27D4_EB4F)
        return (h, h2)
    }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &* 0xBF58_476D_1CE4_E5B9
        z ^= z >> 31
        z = z &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 29)
    }
}

/// The filters a write buffer publishes for its readers: the cycle's window (nil between
/// cycles) and the records buffered since the window was taken. A record key in neither is
/// not in the buffer.
struct BufferedKeyFilters: Sendable {
    var window: RecordKeyFilter?
    var arrivals: RecordKeyFilter

    static let none = BufferedKeyFilters(window: nil, arrivals: .empty)

    @inline(__always)
    func mayContain(_ rk: UnsafeRawBufferPointer) -> Bool {
        arrivals.mayContain(rk) || (window?.mayContain(rk) ?? false)
    }
}
