import Node
import Synchronization

/// Bounds one attempt of a range operation: the first of the operation's answer or the
/// deadline wins, without waiting for an operation that ignores cancellation (a node call
/// to a paused process only ends at its own call timeout; a task group would wait for it).
/// The loser is cancelled; a late answer is dropped. Owns the one continuation.
enum AttemptDeadline {
    /// How an attempt ended.
    enum Outcome<T: Sendable>: Sendable {
        case answered(Result<T, ProposalError>)
        /// No answer within the deadline (the operation may still apply: outcome unknown).
        case expired
    }

    final class Race<T: Sendable>: Sendable {
        struct State {
            var continuation: CheckedContinuation<Outcome<T>, Never>?
            var done = false
            var tasks: [Task<Void, Never>] = []
        }
        let state = Mutex(State())

        func finish(_ outcome: Outcome<T>) {
            let (c, tasks) = state.withLock { s -> (CheckedContinuation<Outcome<T>, Never>?, [Task<Void, Never>]) in
                guard !s.done else { return (nil, []) }
                s.done = true
                defer { s.continuation = nil }
                return (s.continuation, s.tasks)
            }
            for t in tasks { t.cancel() }
            c?.resume(returning: outcome)
        }
    }

    /// Runs `body` with a deadline of `limit`; the caller's cancellation ends the wait too
    /// (as `.expired`).
    static func run<T: Sendable>(
        _ limit: Duration, _ body: @escaping @Sendable () async throws(ProposalError) -> T
    ) async -> Outcome<T> {
        let race = Race<T>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Outcome<T>, Never>) in
                let early = race.state.withLock { s -> Bool in
                    if s.done { return true }
                    s.continuation = c
                    return false
                }
                if early {
                    c.resume(returning: .expired)
                    return
                }
                let work = Task {
                    do throws(ProposalError) {
                        race.finish(.answered(.success(try await body())))
                    } catch {
                        race.finish(.answered(.failure(error)))
                    }
                }
                let timer = Task {
                    try? await Task.sleep(for: limit)
                    if !Task.isCancelled { race.finish(.expired) }
                }
                let already = race.state.withLock { s -> Bool in
                    s.tasks = [work, timer]
                    return s.done
                }
                if already {
                    work.cancel()
                    timer.cancel()
                }
            }
        } onCancel: {
            race.finish(.expired)
        }
    }
}
