import Synchronization

/// Bounds one attempt of a call to another node (the router's range operations, the
/// node's oracle calls): the first of the operation's answer or the
/// deadline wins, without waiting for an operation that ignores cancellation (a node call
/// to a paused process only ends at its own call timeout; a task group would wait for it).
/// The loser is cancelled; a late answer is dropped. Owns the one continuation.
///
/// Deadlines are watched by ONE shared sweeper (`AttemptTimers`), not by a timer task per
/// attempt: a `Task.sleep` per attempt cost a task, a dispatch timer registration (a wake-up
/// of dispatch's timer thread) and a later timer firing (another wake-up) on every remote
/// call of the hot path, even when the answer came first (session 11).
public enum AttemptDeadline {
    /// The sweeper every attempt registers its deadline with.
    public static let timers = AttemptTimers()

    /// How an attempt ended.
    public enum Outcome<T: Sendable>: Sendable {
        case answered(Result<T, ProposalError>)
        /// No answer within the deadline (the operation may still apply: outcome unknown).
        case expired
    }

    final class Race<T: Sendable>: Sendable {
        struct State {
            var continuation: CheckedContinuation<Outcome<T>, Never>?
            var done = false
            var work: Task<Void, Never>?
            var timer: UInt64?
        }
        let state = Mutex(State())

        func finish(_ outcome: Outcome<T>) {
            let (c, work, timer) = state.withLock { s -> (CheckedContinuation<Outcome<T>, Never>?, Task<Void, Never>?, UInt64?) in
                guard !s.done else { return (nil, nil, nil) }
                s.done = true
                defer { s.continuation = nil }
                return (s.continuation, s.work, s.timer)
            }
            work?.cancel()
            if let timer { AttemptDeadline.timers.cancel(timer) }
            c?.resume(returning: outcome)
        }
    }

    /// Runs `body` with a deadline of `limit`; the caller's cancellation ends the wait too
    /// (as `.expired`), and so does `abandon` answering true at one of the sweeper's passes
    /// (at most 200 ms apart): the attempt's node was marked down meanwhile.
    public static func run<T: Sendable>(
        _ limit: Duration, abandon: (@Sendable () -> Bool)? = nil,
        _ body: @escaping @Sendable () async throws(ProposalError) -> T
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
                let timer = timers.register(after: limit, abandon: abandon) { race.finish(.expired) }
                let already = race.state.withLock { s -> Bool in
                    s.work = work
                    s.timer = timer
                    return s.done
                }
                if already {
                    work.cancel()
                    timers.cancel(timer)
                }
            }
        } onCancel: {
            race.finish(.expired)
        }
    }
}

/// The deadlines of the attempts in flight, watched by one sweeping task that runs only
/// while some are registered: it sleeps until the earliest deadline (at most
/// `sweepIntervalMax`, 200 ms, so a later-registered earlier deadline is seen within that), fires
/// the overdue ones and ends when none is left. Owns the registered deadlines and their
/// expiry actions.
public final class AttemptTimers: Sendable {
    struct Entry {
        var deadline: ContinuousClock.Instant
        /// Asked at every pass: true ends the wait before the deadline.
        var abandon: (@Sendable () -> Bool)?
        var expire: @Sendable () -> Void
    }

    struct State {
        var entries: [UInt64: Entry] = [:]
        var next: UInt64 = 1
        var sweeping = false
        /// How many sweeper tasks were started (tests: one per busy period, not per attempt).
        var sweepersStarted = 0
    }

    static let sweepIntervalMax: Duration = .milliseconds(200)
    let state = Mutex(State())

    public init() {}

    /// Registers `expire` to run once `limit` has passed, or at the first pass where
    /// `abandon` answers true, unless cancelled first; returns the token for `cancel`.
    public func register(after limit: Duration, abandon: (@Sendable () -> Bool)? = nil,
                  _ expire: @escaping @Sendable () -> Void) -> UInt64 {
        let deadline = ContinuousClock.now + limit
        let (token, start) = state.withLock { s -> (UInt64, Bool) in
            let token = s.next
            s.next += 1
            s.entries[token] = Entry(deadline: deadline, abandon: abandon, expire: expire)
            guard !s.sweeping else { return (token, false) }
            s.sweeping = true
            s.sweepersStarted += 1
            return (token, true)
        }
        if start { Task { await self.sweep() } }
        return token
    }

    public func cancel(_ token: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: token) }
    }

    /// Deadlines registered and not yet fired or cancelled.
    public var registered: Int { state.withLock { $0.entries.count } }

    public var sweepersStarted: Int { state.withLock { $0.sweepersStarted } }

    private func sweep() async {
        while true {
            let now = ContinuousClock.now
            let (due, earliest) = state.withLock { s -> ([@Sendable () -> Void], ContinuousClock.Instant?) in
                var due: [@Sendable () -> Void] = []
                var earliest: ContinuousClock.Instant?
                for (token, e) in s.entries {
                    if e.deadline <= now || e.abandon?() == true {
                        due.append(e.expire)
                        s.entries[token] = nil
                    } else if earliest.map({ e.deadline < $0 }) ?? true {
                        earliest = e.deadline
                    }
                }
                if earliest == nil { s.sweeping = false }
                return (due, earliest)
            }
            for expire in due { expire() }
            guard let earliest else { return }
            try? await Task.sleep(for: min(earliest - now, Self.sweepIntervalMax))
        }
    }
}
