/// A fixed-bucket histogram with Prometheus `le` semantics: `counts[i]` counts the
/// observations `v` with `bounds[i-1] < v <= bounds[i]` (per bucket, not cumulative), and
/// the last slot counts those above every bound (the `+Inf` bucket's own share). Plain
/// value; owns only its counts. Exporters turn it into cumulative `_bucket{le=…}` lines.
public struct WALHistogram: Sendable, Equatable {
    /// Upper bounds, strictly increasing, in the histogram's unit.
    public let bounds: [UInt64]
    /// `bounds.count + 1` per-bucket counts; the last is above the highest bound.
    public private(set) var counts: [UInt64]
    /// Number and sum of all observations (Prometheus `_count` and `_sum`).
    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0

    public init(bounds: [UInt64]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bounds must increase")
        self.bounds = bounds
        counts = [UInt64](repeating: 0, count: bounds.count + 1)
    }

    /// Counts `value` in the first bucket whose bound is at or above it.
    public mutating func observe(_ value: UInt64) {
        var lo = 0
        var hi = bounds.count
        while lo < hi {  // first i with value <= bounds[i]; bounds.count when none
            let mid = (lo + hi) / 2
            if value <= bounds[mid] { hi = mid } else { lo = mid + 1 }
        }
        counts[lo] += 1
        count += 1
        sum &+= value
    }

    /// `(bound, observations <= bound)` for every bound, then `(nil, count)` for `+Inf`.
    public var cumulative: [(bound: UInt64?, count: UInt64)] {
        var out: [(bound: UInt64?, count: UInt64)] = []
        out.reserveCapacity(counts.count)
        var running: UInt64 = 0
        for (i, c) in counts.enumerated() {
            running += c
            out.append((i < bounds.count ? bounds[i] : nil, running))
        }
        return out
    }

    /// fdatasync durations in nanoseconds: 100 µs to ~1.6 s, doubling (about 0.1, 0.2, 0.4,
    /// 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6, 819.2, 1638.4 ms).
    public static let fsyncNanosBounds: [UInt64] = (0..<15).map { 100_000 << $0 }
    /// Log entries written per fdatasync: 0, 1, 2, 4, … 8192.
    public static let entriesPerFsyncBounds: [UInt64] = [0] + (0..<14).map { 1 << $0 }
}
