/// Streaming XXH32 (seed 0 by default), the checksum the LZ4 frame format uses for
/// its header byte and content checksum.
///
/// Flotilla computes the content checksum itself instead of letting liblz4 do it:
/// the Debian liblz4 build hashes at roughly a third of the speed of this loop on
/// our machines, which made the checksum cost more than decompression itself
/// (see docs and `Tools/bench-lz4`). Written from the xxHash specification; tests
/// check it against liblz4's own frame checksums.
struct XXH32 {
    private static let prime1: UInt32 = 0x9E37_79B1
    private static let prime2: UInt32 = 0x85EB_CA77
    private static let prime3: UInt32 = 0xC2B2_AE3D
    private static let prime4: UInt32 = 0x27D4_EB2F
    private static let prime5: UInt32 = 0x1656_67B1

    private let seed: UInt32
    private var lane1: UInt32, lane2: UInt32, lane3: UInt32, lane4: UInt32
    private var totalBytes: UInt64 = 0
    /// Up to 15 bytes not yet forming a full 16-byte stripe.
    private var pending: (UInt64, UInt64) = (0, 0)
    private var pendingCount = 0

    init(seed: UInt32 = 0) {
        self.seed = seed
        lane1 = seed &+ Self.prime1 &+ Self.prime2
        lane2 = seed &+ Self.prime2
        lane3 = seed
        lane4 = seed &- Self.prime1
    }

    /// One-shot hash of `bytes`.
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        var hasher = XXH32(seed: seed)
        hasher.update(bytes)
        return hasher.digest()
    }

    @inline(__always)
    private static func round(_ lane: UInt32, _ input: UInt32) -> UInt32 {
        let mixed = lane &+ input &* prime2
        return ((mixed << 13) | (mixed >> 19)) &* prime1
    }

    @inline(__always)
    private static func read32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// One lane round whose input word was already multiplied by `prime2`.
    @inline(__always)
    private static func round(_ lane: UInt32, premultiplied: UInt32) -> UInt32 {
        let mixed = lane &+ premultiplied
        return ((mixed << 13) | (mixed >> 19)) &* prime1
    }

    /// Folds whole 16-byte stripes of `base[0..<count]` into the lanes; returns the
    /// number of bytes consumed (a multiple of 16).
    ///
    /// Four stripes at a time, the `input * prime2` products of all sixteen words
    /// come from one vector multiply, leaving the scalar multiplier (one port on
    /// x86) only the four `* prime1` per stripe that the lanes' dependency chains
    /// need; that is what bounds XXH32 on one core.
    private mutating func consumeStripes(_ base: UnsafeRawPointer, _ count: Int) -> Int {
        var l1 = lane1, l2 = lane2, l3 = lane3, l4 = lane4
        var offset = 0
        #if _endian(little)
        let prime2s = SIMD16<UInt32>(repeating: Self.prime2)
        while offset + 64 <= count {
            let products = base.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt32>.self) &* prime2s
            l1 = Self.round(l1, premultiplied: products[0])
            l2 = Self.round(l2, premultiplied: products[1])
            l3 = Self.round(l3, premultiplied: products[2])
            l4 = Self.round(l4, premultiplied: products[3])
            l1 = Self.round(l1, premultiplied: products[4])
            l2 = Self.round(l2, premultiplied: products[5])
            l3 = Self.round(l3, premultiplied: products[6])
            l4 = Self.round(l4, premultiplied: products[7])
            l1 = Self.round(l1, premultiplied: products[8])
            l2 = Self.round(l2, premultiplied: products[9])
            l3 = Self.round(l3, premultiplied: products[10])
            l4 = Self.round(l4, premultiplied: products[11])
            l1 = Self.round(l1, premultiplied: products[12])
            l2 = Self.round(l2, premultiplied: products[13])
            l3 = Self.round(l3, premultiplied: products[14])
            l4 = Self.round(l4, premultiplied: products[15])
            offset += 64
        }
        #endif
        while offset + 16 <= count {
            l1 = Self.round(l1, Self.read32(base, offset))
            l2 = Self.round(l2, Self.read32(base, offset + 4))
            l3 = Self.round(l3, Self.read32(base, offset + 8))
            l4 = Self.round(l4, Self.read32(base, offset + 12))
            offset += 16
        }
        lane1 = l1; lane2 = l2; lane3 = l3; lane4 = l4
        return offset
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress, !bytes.isEmpty else { return }
        var count = bytes.count
        totalBytes &+= UInt64(count)
        if pendingCount > 0 {
            let filled = pendingCount
            let take = min(16 - filled, count)
            withUnsafeMutableBytes(of: &pending) { $0.baseAddress!.advanced(by: filled).copyMemory(from: base, byteCount: take) }
            pendingCount += take
            base += take
            count -= take
            guard pendingCount == 16 else { return }
            var stripe = pending
            _ = withUnsafeBytes(of: &stripe) { consumeStripes($0.baseAddress!, 16) }
            pendingCount = 0
        }
        let consumed = consumeStripes(base, count)
        let rest = count - consumed
        if rest > 0 {
            withUnsafeMutableBytes(of: &pending) { $0.baseAddress!.copyMemory(from: base + consumed, byteCount: rest) }
            pendingCount = rest
        }
    }

    /// The hash of everything passed to `update` so far (the state is unchanged).
    func digest() -> UInt32 {
        var hash: UInt32
        if totalBytes >= 16 {
            hash = (lane1 << 1 | lane1 >> 31) &+ (lane2 << 7 | lane2 >> 25)
                &+ (lane3 << 12 | lane3 >> 20) &+ (lane4 << 18 | lane4 >> 14)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= UInt32(truncatingIfNeeded: totalBytes)
        let tail = pending, tailCount = pendingCount
        withUnsafeBytes(of: tail) { buffer in
            let base = buffer.baseAddress!
            var offset = 0
            while offset + 4 <= tailCount {
                hash &+= Self.read32(base, offset) &* Self.prime3
                hash = (hash << 17 | hash >> 15) &* Self.prime4
                offset += 4
            }
            while offset < tailCount {
                hash &+= UInt32(buffer[offset]) &* Self.prime5
                hash = (hash << 11 | hash >> 21) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 15
        hash &*= Self.prime2
        hash ^= hash >> 13
        hash &*= Self.prime3
        hash ^= hash >> 16
        return hash
    }
}
