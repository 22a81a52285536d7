import Base
import Node
@testable import Router
import Synchronization
import Testing

/// `AttemptDeadline`: the first of the answer, the deadline or the caller's cancellation
/// ends the wait, and an operation that ignores cancellation does not hold the caller
/// (issue #6: the session-5 stall was not here, see RouterWatchTests; these pin that).
@Suite struct AttemptDeadlineTests {
    /// A gate an operation waits on, ignoring cancellation (like a node call to a paused
    /// process), until the test opens it.
    final class Gate: Sendable {
        let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func wait() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.open { return true }
                    s.waiters.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        }

        func open() {
            let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.open = true
                defer { s.waiters = [] }
                return s.waiters
            }
            for c in waiters { c.resume() }
        }
    }

    @Test func anAnswerBeforeTheDeadlineWins() async {
        let outcome = await AttemptDeadline.run(.seconds(30)) { () async throws(ProposalError) -> Int in 7 }
        guard case .answered(.success(7)) = outcome else {
            Issue.record("got \(outcome)")
            return
        }
        let failed = await AttemptDeadline.run(.seconds(30)) { () async throws(ProposalError) -> Int in throw .timeout }
        guard case .answered(.failure(.timeout)) = failed else {
            Issue.record("got \(failed)")
            return
        }
    }

    @Test func anOperationIgnoringCancellationDoesNotHoldTheCaller() async {
        let gate = Gate()
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = await AttemptDeadline.run(.milliseconds(100)) { () async throws(ProposalError) -> Int in
            await gate.wait()
            return 1
        }
        let elapsed = clock.now - start
        gate.open()  // the abandoned operation ends; its late answer is dropped
        guard case .expired = outcome else {
            Issue.record("got \(outcome)")
            return
        }
        #expect(elapsed < .seconds(300), "hang bound: took \(elapsed)")
    }

    @Test func theCallersCancellationEndsTheWait() async {
        let gate = Gate()
        let waiter = Task {
            await AttemptDeadline.run(.seconds(600)) { () async throws(ProposalError) -> Int in
                await gate.wait()
                return 1
            }
        }
        try? await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        let outcome = await waiter.value
        gate.open()
        guard case .expired = outcome else {
            Issue.record("got \(outcome)")
            return
        }
    }

    /// Many racing attempts, half answering at about the deadline: every caller resumes
    /// exactly once with one of the two outcomes (a lost or double resume would hang or trap).
    @Test(arguments: [UInt64(61), 62])
    func racingAttemptsAllResume(seed: UInt64) async {
        var rng = SeededGenerator(seed: seed)
        let delays = (0..<200).map { _ in Int.random(in: 0..<20, using: &rng) }
        let results = await withTaskGroup(of: String.self) { group in
            for (i, d) in delays.enumerated() {
                group.addTask {
                    let outcome = await AttemptDeadline.run(.milliseconds(10)) { () async throws(ProposalError) -> Int in
                        try? await Task.sleep(for: .milliseconds(d))
                        return i
                    }
                    switch outcome {
                    case .answered(.success(let v)): return v == i ? "answered" : "wrong answer \(v) for \(i)"
                    case .answered(.failure(let e)): return "failed: \(e)"
                    case .expired: return "expired"
                    }
                }
            }
            var out: [String] = []
            for await r in group { out.append(r) }
            return out
        }
        #expect(results.count == delays.count, "seed \(seed)")
        let bad = results.filter { $0 != "answered" && $0 != "expired" }
        #expect(bad.isEmpty, "seed \(seed): \(bad)")
    }

    /// Session 11: deadlines share one sweeper instead of a timer task per attempt. 300
    /// attempts through `AttemptDeadline.run` answer; 300 deadlines live at once on one
    /// `AttemptTimers` start exactly one sweeper (before: one `Task.sleep` timer task per
    /// attempt); a cancelled deadline never fires. (Counting sweepers of the shared timers
    /// was timing-dependent: other suites use them, and a sweeper that finds none left ends.)
    @Test func attemptsShareOneSweeper() async {
        for i in 0..<300 {
            let outcome = await AttemptDeadline.run(.seconds(30)) { () async throws(ProposalError) -> Int in i }
            guard case .answered(.success(i)) = outcome else {
                Issue.record("attempt \(i): got \(outcome)")
                return
            }
        }
        let shared = AttemptTimers()
        let tokens = (0..<300).map { _ in shared.register(after: .seconds(30)) {} }
        #expect(shared.sweepersStarted == 1, "\(shared.sweepersStarted) sweepers for 300 live deadlines")
        for t in tokens { shared.cancel(t) }
        #expect(shared.registered == 0)
        let fired = Atomic<Int>(0)
        let timers = AttemptTimers()
        let token = timers.register(after: .milliseconds(5)) { fired.add(1, ordering: .relaxed) }
        timers.cancel(token)
        _ = timers.register(after: .milliseconds(5)) { fired.add(10, ordering: .relaxed) }
        for _ in 0..<400 where fired.load(ordering: .relaxed) == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        #expect(fired.load(ordering: .relaxed) == 10, "the cancelled deadline fired or the live one did not")
        #expect(timers.registered == 0)
    }
}
