import Foundation

/// Paces a byte stream to a rate: after `consume(n)` the caller sleeps until the bytes so
/// far are not ahead of `bytesPerSecond`. One throttle per snapshot send; owns its clock.
struct SnapshotThrottle {
    let bytesPerSecond: Double
    let start = ContinuousClock.now
    var bytes = 0

    init(megabytesPerSecond: Double) { bytesPerSecond = megabytesPerSecond * 1_000_000 }

    /// How long to wait after `n` more bytes (zero when unlimited or behind schedule).
    mutating func consume(_ n: Int) -> Duration {
        bytes += n
        guard bytesPerSecond > 0 else { return .zero }
        let due = Duration.seconds(Double(bytes) / bytesPerSecond)
        let elapsed = ContinuousClock.now - start
        return due > elapsed ? due - elapsed : .zero
    }
}
