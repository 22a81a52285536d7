/// The append messages sent to one follower and not yet acknowledged, as a ring buffer of
/// the last index each carried. Bounds the replication pipeline (`maxInflightMsgs`).
struct Inflights: Equatable {
    private var buffer: [UInt64] = []
    private var start = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "inflight capacity must be positive")
        self.capacity = capacity
    }

    var isFull: Bool { count == capacity }

    /// Records a message whose last entry is `index`. Indexes must increase.
    mutating func add(_ index: UInt64) {
        precondition(!isFull, "cannot add into a full inflights")
        if buffer.isEmpty { buffer = [UInt64](repeating: 0, count: capacity) }
        var slot = start + count
        if slot >= capacity { slot -= capacity }
        buffer[slot] = index
        count += 1
    }

    /// Frees every message whose last index is `<= index` (they were acknowledged).
    mutating func freeLE(_ index: UInt64) {
        guard count > 0, buffer[start] <= index else { return }
        var i = start
        var freed = 0
        while freed < count {
            if buffer[i] > index { break }
            freed += 1
            i += 1
            if i >= capacity { i -= capacity }
        }
        count -= freed
        start = count == 0 ? 0 : i
    }

    mutating func reset() {
        count = 0
        start = 0
    }

    /// The tracked indexes, oldest first (tests, status).
    var indexes: [UInt64] {
        (0..<count).map { buffer[(start + $0) % capacity] }
    }
}
