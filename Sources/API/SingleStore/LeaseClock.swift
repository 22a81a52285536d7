import Synchronization

/// The time source lease expiry is measured with: a monotonic reading since an arbitrary
/// origin. Production uses `SystemLeaseClock`; tests drive `ManualLeaseClock`.
public protocol LeaseClock: Sendable {
    func now() -> Duration
}

/// Monotonic time from `ContinuousClock` (wall-clock TTLs, immune to clock steps).
public struct SystemLeaseClock: LeaseClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - origin }
}

/// A clock that moves only when told to (tests).
public final class ManualLeaseClock: LeaseClock {
    private let time = Mutex(Duration.zero)

    public init() {}

    public func now() -> Duration { time.withLock { $0 } }

    public func advance(by d: Duration) { time.withLock { $0 += d } }
}
