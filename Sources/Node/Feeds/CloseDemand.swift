import Base
import Synchronization

/// Ranges whose feeds asked to be closed now (`NodeHost.demandClose`) and the closer's wait
/// for them. Owns the demanded set and the parked closer (one: the node's closer task). The
/// closer takes the whole set each time it wakes (`wait(timeout:)`), so any number of demands
/// arriving while it closes cost one more close round, not one each.
final class CloseDemand: Sendable {
    private struct State {
        var ranges: Set<RangeID> = []
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Asks for `range` to be closed at the closer's next round, waking it when it waits.
    func add(_ range: RangeID) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.ranges.insert(range)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Ranges demanded and not yet taken (tests).
    var pending: Set<RangeID> { state.withLock { $0.ranges } }

    /// Waits until a range is demanded, `timeout` passes or the task is cancelled; returns
    /// (and forgets) the demanded ranges, empty when none.
    func wait(timeout: Duration) async -> Set<RangeID> {
        if state.withLock({ $0.ranges.isEmpty }) {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: timeout) }
                group.addTask { await self.park() }
                await group.next()
                group.cancelAll()
            }
        }
        return take()
    }

    /// The demanded ranges now (forgotten), without waiting.
    func take() -> Set<RangeID> {
        state.withLock { s in
            defer { s.ranges = [] }
            return s.ranges
        }
    }

    /// Parks until a demand, or cancellation (the timer child finished first).
    private func park() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    // Cancellation is flagged before the handler runs, so a cancel that
                    // found no waiter to resume is seen here.
                    if !s.ranges.isEmpty || Task.isCancelled { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}
