import Synchronization

/// Wakes watch feeds when the store's revision moves: writers `publish` after applying,
/// feeds `wait(above:)` the revision they last scanned at. Owns only the latest published
/// revision and the waiting continuations (resumed on publish, cancellation or close).
final class RevisionHub: Sendable {
    private struct State {
        var revision: Int64
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(revision: Int64) { state = Mutex(State(revision: revision)) }

    var revision: Int64 { state.withLock { $0.revision } }

    func publish(_ revision: Int64) {
        state.withLock { s in
            guard revision > s.revision else { return }
            s.revision = revision
            for (_, c) in s.waiters { c.resume() }
            s.waiters.removeAll()
        }
    }

    /// Returns once the published revision exceeds `seen` (at once if it already does) or
    /// when the task is cancelled.
    func wait(above seen: Int64) async {
        let id: UInt64? = state.withLock { s in
            if s.revision > seen { return nil }
            s.nextWaiterID += 1
            return s.nextWaiterID
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s in
                    if s.revision > seen || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            state.withLock { s in
                if let c = s.waiters.removeValue(forKey: id) { c.resume() } else { s.cancelled.insert(id) }
            }
        }
        state.withLock { _ = $0.cancelled.remove(id) }
    }
}
