/// The simulated time of one run. Time advances in *steps*; every `stepsPerTick` steps
/// is a Raft tick, at which each running replica's `tick()` is called. Message delays
/// are measured in steps, so a message can overtake another or arrive a few ticks late.
/// The clock owns nothing but the current step; it never reads the wall clock.
public struct VirtualClock: Sendable, Hashable {
    /// Steps in one Raft tick.
    public let stepsPerTick: Int
    /// The current step (starts at 0).
    public private(set) var now: Int = 0

    public init(stepsPerTick: Int) {
        precondition(stepsPerTick >= 1, "a tick has at least one step")
        self.stepsPerTick = stepsPerTick
    }

    /// The number of whole ticks elapsed.
    public var ticks: Int { now / stepsPerTick }

    /// Whether the current step starts a new tick.
    public var isTickBoundary: Bool { now % stepsPerTick == 0 }

    /// Moves time forward by one step.
    public mutating func advance() { now += 1 }
}
