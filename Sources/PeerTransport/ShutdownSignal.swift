import Synchronization

/// A one-shot signal the peer server's long-lived stream handlers wait on, so that a
/// stopping transport can end its inbound Raft and call streams itself (the RPCs finish
/// and the server's graceful shutdown completes) instead of cancelling the server under
/// open connections, where a peer's new stream arriving meanwhile would be dropped
/// unconsumed (swift-nio traps on that: "Deinited NIOAsyncWriter without calling
/// finish()"). Owns the waiting continuations.
final class ShutdownSignal: Sendable {
    struct State {
        var fired = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }
    let state = Mutex(State())

    /// Returns once `fire()` was called, or when the calling task is cancelled.
    func wait() async {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.fired || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    var fired: Bool { state.withLock { $0.fired } }
}
