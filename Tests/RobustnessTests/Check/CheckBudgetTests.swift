import Foundation
import Robustness
import Testing
import TestSupport

/// Regression for THE HANG (session 3): `--target flotilla --seed 300 --clients 16` sat silent for
/// 10 minutes after its kill-random run while the linearizability search grew past 5 GB. The
/// search now runs under a budget (steps, time, memory) and gives up with a verdict of its
/// own; and lists no longer join every key into one partition, so a kill run's history with
/// 16 clients checks in seconds.
@Suite struct CheckBudgetTests {
    /// Forty unknown puts of one key, all concurrent, then a read of a value none of them wrote:
    /// illegal, but proving it means trying every subset in every order — exponential.
    static func pathological() -> [HistoryOperation] {
        var h = HistoryBuilder()
        for i in 0..<40 { h.put(i, 0, nil, "a", "v\(i)", rev: nil) }
        h.get(99, 1_000, 1_010, "a", rev: 100, [kv("a", "ghost", mod: 90)])
        return h.ops
    }

    // The searches run on threads of their own (`onOwnThread`): they are CPU-bound for seconds
    // and would otherwise hold the cooperative pool's threads that other tests need.
    @Test func explodingSearchGivesUpOnTime() async throws {
        // Timed on the checking thread: the await may wait for a busy pool to resume it.
        let (verdict, took) = try await onOwnThread {
            let start = ContinuousClock.now
            let verdict = LinearizabilityChecker(budget: CheckBudget(steps: .max, time: .seconds(2), memoryBytes: .max)).check(Self.pathological())
            return (verdict, ContinuousClock.now - start)
        }
        guard case .inconclusive(_, _, let reason) = verdict else {
            Issue.record("expected the checker to give up, got \(verdict)")
            return
        }
        #expect(reason.contains("time"), "\(reason)")
        #expect(took < .seconds(10), "gave up after \(took)")
        #expect(!verdict.isLinearizable)
    }

    @Test func explodingSearchGivesUpOnMemory() async throws {
        let verdict = try await onOwnThread {
            LinearizabilityChecker(budget: CheckBudget(steps: .max, time: .seconds(60), memoryBytes: 8 << 20)).check(Self.pathological())
        }
        guard case .inconclusive(_, _, let reason) = verdict else {
            Issue.record("expected the checker to give up, got \(verdict)")
            return
        }
        #expect(reason.contains("memory"), "\(reason)")
    }

    @Test func explodingSearchGivesUpOnSteps() async throws {
        let verdict = try await onOwnThread { LinearizabilityChecker(budget: CheckBudget(steps: 1_000)).check(Self.pathological()) }
        guard case .inconclusive(_, let steps, let reason) = verdict else {
            Issue.record("expected the checker to give up, got \(verdict)")
            return
        }
        #expect(reason.contains("step"), "\(reason)")
        #expect(steps > 1_000)
    }

    /// The shape of seed 300's history: 16 clients on 10 keys with lists, a kill in the middle
    /// leaving a burst of unknown writes that never return. Checked per key, it passes well
    /// inside a small budget.
    @Test(arguments: [UInt64(300), 301, 302])
    func killRunWithListsChecksWithinBudget(seed: UInt64) async throws {
        let ops = SimulatedServer.history(seed: seed, count: 2_000, clients: 16, keys: 10, listPercent: 8, unknownWindow: 800..<1_100)
        let (verdict, took) = try await onOwnThread {
            let start = ContinuousClock.now
            let verdict = LinearizabilityChecker(budget: CheckBudget(steps: 2_000_000, time: .seconds(20), memoryBytes: 256 << 20)).check(ops)
            return (verdict, ContinuousClock.now - start)
        }
        #expect(verdict.isLinearizable, "seed \(seed): \(verdict)")
        #expect(took < .seconds(20), "seed \(seed): checked in \(took)")
    }
}
