public import Base

/// Convenience draws on the simulator's seeded generator. Every random decision of a
/// simulated run goes through one `SeededGenerator`, so a run is a function of its seed.
extension SeededGenerator {
    /// True with probability `p` (clamped to [0, 1]).
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return Double(next() >> 11) * 0x1.0p-53 < p
    }

    /// A uniform integer in `range` (which must not be empty).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    /// A uniform element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T {
        items[Int.random(in: 0..<items.count, using: &self)]
    }

    /// A fresh seed for a sub-component (replica core, network), derived deterministically.
    public mutating func fork() -> UInt64 { next() }
}
