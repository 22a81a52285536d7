/// The fault model of the simulated network for one phase of a run: how often a message
/// is lost or duplicated and how long it is delayed. With `fifo` off, independent random
/// delays reorder messages on a link; with it on, a link delivers in send order (like one
/// gRPC stream per node pair). Owns only numbers; `SimNetwork` applies them.
public struct NetworkFaults: Sendable, Hashable {
    /// Probability that a sent message is dropped.
    public var lossRate: Double
    /// Probability that a sent (not lost) message is delivered twice.
    public var duplicateRate: Double
    /// Smallest delay of a message, in steps (at least 1).
    public var minDelaySteps: Int
    /// Largest delay of a message, in steps.
    public var maxDelaySteps: Int
    /// Deliver in send order per directed link.
    public var fifo: Bool

    public init(lossRate: Double = 0, duplicateRate: Double = 0, minDelaySteps: Int = 1,
                maxDelaySteps: Int = 1, fifo: Bool = false) {
        precondition(minDelaySteps >= 1 && maxDelaySteps >= minDelaySteps, "delays must satisfy 1 <= min <= max")
        self.lossRate = lossRate
        self.duplicateRate = duplicateRate
        self.minDelaySteps = minDelaySteps
        self.maxDelaySteps = maxDelaySteps
        self.fifo = fifo
    }

    /// A network that loses and duplicates nothing, with the given delay range.
    public static func reliable(minDelaySteps: Int = 1, maxDelaySteps: Int = 1) -> NetworkFaults {
        NetworkFaults(minDelaySteps: minDelaySteps, maxDelaySteps: maxDelaySteps)
    }
}
