import Foundation

/// Runs blocking `work` (a node stop, a blocking pipe read) on a new thread of its own and
/// resumes with its result, so no task's thread — a cooperative-pool thread, or an event
/// loop with `FLOTILLA_EXECUTOR=nio` — is held while it blocks. Owns nothing after it returns.
public func onBlockingThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
        Thread { done.resume(returning: work()) }.start()
    }
}
