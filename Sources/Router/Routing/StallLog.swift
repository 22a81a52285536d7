import Synchronization

/// Rate-limited warnings about requests the router gave up on (a range whose leader never
/// answered, reads that kept timing out): at most one line per key (the range) per
/// `interval`, the next one saying how many were held back. A client always gets etcd's
/// "request timed out" when the retries run out; this says why on the node's log, so a stall
/// is never silent. Owns only the per-key timestamps; the sink is the server's logger.
final class StallLog: Sendable {
    struct Entry {
        var last: ContinuousClock.Instant
        var heldBack: Int
    }

    let interval: Duration
    let sink: (@Sendable (String) -> Void)?
    let entries = Mutex<[String: Entry]>([:])

    init(interval: Duration, sink: (@Sendable (String) -> Void)?) {
        self.interval = interval
        self.sink = sink
    }

    /// Logs `message` for `key` unless a line for it went out less than `interval` ago.
    /// Returns whether it was logged.
    @discardableResult
    func warn(_ key: String, _ message: @autoclosure () -> String, now: ContinuousClock.Instant = .now) -> Bool {
        guard let sink else { return false }
        let heldBack: Int? = entries.withLock { e in
            if let old = e[key], now - old.last < interval {
                e[key]!.heldBack += 1
                return nil
            }
            let held = e[key]?.heldBack ?? 0
            e[key] = Entry(last: now, heldBack: 0)
            return held
        }
        guard let heldBack else { return false }
        sink(message() + (heldBack > 0 ? " (\(heldBack) more like it not logged)" : ""))
        return true
    }
}
