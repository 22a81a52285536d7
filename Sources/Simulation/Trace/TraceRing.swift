/// A bounded ring of the last `capacity` trace events of a run, each stamped with its
/// step. Owns only the events; printing happens on failure.
public struct TraceRing: Sendable {
    /// One event and the step it happened at.
    public struct Record: Sendable {
        public var step: Int
        public var event: TraceEvent
    }

    public let capacity: Int
    private var records: [Record] = []
    private var head = 0
    /// Events recorded over the whole run (including those overwritten).
    public private(set) var totalCount = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        records.reserveCapacity(capacity)
    }

    public mutating func record(_ event: TraceEvent, step: Int) {
        totalCount += 1
        if records.count < capacity {
            records.append(Record(step: step, event: event))
        } else {
            records[head] = Record(step: step, event: event)
            head = (head + 1) % capacity
        }
    }

    /// The retained events, oldest first.
    public var events: [Record] {
        records.count < capacity ? records : Array(records[head...] + records[..<head])
    }

    /// One line per retained event, `step: event`.
    public func lines(stepsPerTick: Int) -> [String] {
        var out: [String] = []
        if totalCount > records.count { out.append("... \(totalCount - records.count) earlier events omitted") }
        for r in events {
            out.append("[t\(r.step / stepsPerTick).\(r.step % stepsPerTick)] \(r.event)")
        }
        return out
    }
}
