public import Base
public import RaftCore

/// What happened to a message handed to the network.
public enum SendOutcome: Sendable, Hashable {
    /// Dropped at send time by the loss model.
    case lost
    /// Queued for delivery (`copies` is 2 when duplicated).
    case queued(copies: Int)
}

/// A message leaving the network at its due step.
public struct Delivery: Sendable {
    public var message: Message
    /// True when the link was cut by the partition at delivery time: the message is
    /// dropped and never reaches its destination.
    public var blocked: Bool
}

/// The seeded simulated network. Owns the messages in flight, the fault model and the
/// partition. Loss and duplication are decided at send time; the partition is checked
/// at delivery time (a cut also drops messages already in flight). It does not know
/// which replicas are running: the simulator drops deliveries to crashed replicas.
public struct SimNetwork: Sendable {
    public var faults: NetworkFaults
    public var partition = LinkFilter()
    private var queue = MessageQueue()
    private var nextSequence: UInt64 = 0
    /// Latest scheduled delivery per link, to keep links FIFO when `faults.fifo` is on.
    private var lastDeliverAt: [Link: Int] = [:]

    public private(set) var sentCount = 0
    public private(set) var lostCount = 0
    public private(set) var duplicatedCount = 0
    public private(set) var blockedCount = 0
    public private(set) var deliveredCount = 0

    public init(faults: NetworkFaults = .reliable()) {
        self.faults = faults
    }

    /// Messages in flight.
    public var inFlightCount: Int { queue.count }

    /// Hands `message` to the network at step `now`.
    @discardableResult
    public mutating func send(_ message: Message, now: Int, rng: inout SeededGenerator) -> SendOutcome {
        sentCount += 1
        if rng.chance(faults.lossRate) {
            lostCount += 1
            return .lost
        }
        let copies = rng.chance(faults.duplicateRate) ? 2 : 1
        if copies == 2 { duplicatedCount += 1 }
        for _ in 0..<copies {
            var deliverAt = now + rng.int(in: faults.minDelaySteps...faults.maxDelaySteps)
            if faults.fifo {
                let link = Link(from: message.from, to: message.to)
                deliverAt = max(deliverAt, lastDeliverAt[link] ?? 0)
                lastDeliverAt[link] = deliverAt
            }
            queue.push(Envelope(message: message, deliverAt: deliverAt, sequence: nextSequence))
            nextSequence += 1
        }
        return .queued(copies: copies)
    }

    /// The next message due at `now`, in `(deliverAt, send order)` order, or nil.
    public mutating func nextDelivery(now: Int) -> Delivery? {
        guard let envelope = queue.popDue(now: now) else { return nil }
        let blocked = partition.isBlocked(from: envelope.message.from, to: envelope.message.to)
        if blocked { blockedCount += 1 } else { deliveredCount += 1 }
        return Delivery(message: envelope.message, blocked: blocked)
    }

    /// Drops every message in flight (used by tests).
    public mutating func dropAllInFlight() { queue.removeAll() }
}
