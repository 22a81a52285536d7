public import RaftCore

/// A message in flight: delivered once the clock reaches `deliverAt`.
public struct Envelope: Sendable {
    public var message: Message
    public var deliverAt: Int
    /// Send order; breaks ties between messages due at the same step.
    public var sequence: UInt64
}

/// A binary min-heap of envelopes ordered by `(deliverAt, sequence)`. Owns the messages
/// in flight; knows nothing about faults.
struct MessageQueue {
    private var heap: [Envelope] = []

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest due step, if any message is in flight.
    var nextDueStep: Int? { heap.first?.deliverAt }

    mutating func push(_ envelope: Envelope) {
        heap.append(envelope)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !Self.less(heap[child], heap[parent]) { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest envelope if it is due at `now`.
    mutating func popDue(now: Int) -> Envelope? {
        guard let first = heap.first, first.deliverAt <= now else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return first }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    mutating func removeAll() { heap.removeAll() }

    private static func less(_ a: Envelope, _ b: Envelope) -> Bool {
        a.deliverAt != b.deliverAt ? a.deliverAt < b.deliverAt : a.sequence < b.sequence
    }
}
