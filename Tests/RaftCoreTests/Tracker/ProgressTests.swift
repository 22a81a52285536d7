import Testing
@testable import RaftCore

@Suite struct ProgressTests {
    static func progress(match: UInt64, next: UInt64, state: ProgressState = .probe) -> Progress {
        var p = Progress(match: match, next: next, maxInflight: 4)
        switch state {
        case .probe: p.becomeProbe()
        case .replicate: p.becomeReplicate()
        case .snapshot: p.becomeSnapshot(index: 10)
        }
        p.match = match
        p.next = next
        return p
    }

    @Test func maybeUpdateOnlyMovesForward() {
        var p = Self.progress(match: 5, next: 6)
        let r1 = p.maybeUpdate(4)
        #expect(!r1)
        #expect(p.match == 5)
        let r2 = p.maybeUpdate(8)
        #expect(r2)
        #expect(p.match == 8 && p.next == 9)
        // next never moves backwards on an update
        p.next = 20
        let r3 = p.maybeUpdate(9)
        #expect(r3)
        #expect(p.next == 20)
    }

    @Test func maybeDecrToInReplicate() {
        var p = Self.progress(match: 5, next: 10, state: .replicate)
        let r4 = p.maybeDecrTo(rejected: 5, matchHint: 5)
        #expect(!r4, "stale rejection at or below match")
        let r5 = p.maybeDecrTo(rejected: 9, matchHint: 9)
        #expect(r5)
        #expect(p.next == 6, "back to match + 1")
    }

    @Test func maybeDecrToInProbe() {
        // Only a rejection of the last probe (next - 1) counts.
        var p = Self.progress(match: 0, next: 10)
        let r6 = p.maybeDecrTo(rejected: 5, matchHint: 5)
        #expect(!r6)
        #expect(p.next == 10)
        let r7 = p.maybeDecrTo(rejected: 9, matchHint: 3)
        #expect(r7)
        #expect(p.next == 4, "jumps to the hint + 1")
        // never below match + 1
        var q = Self.progress(match: 5, next: 10)
        let r8 = q.maybeDecrTo(rejected: 9, matchHint: 1)
        #expect(r8)
        #expect(q.next == 6)
    }

    @Test func pausedStates() {
        var p = Self.progress(match: 1, next: 2)
        #expect(!p.isPaused)
        p.sentEntries(1)
        #expect(p.isPaused, "a probe waits for its answer")
        p.becomeReplicate()
        #expect(!p.isPaused)
        for _ in 0..<4 { p.sentEntries(1) }
        #expect(p.isPaused, "inflight window full")
        #expect(p.next == 6)
        p.inflights.freeLE(3)
        p.msgAppFlowPaused = p.inflights.isFull
        #expect(!p.isPaused)
        p.becomeSnapshot(index: 20)
        #expect(p.isPaused)
    }

    @Test func becomeProbeFromSnapshotResumesAfterSnapshot() {
        var p = Self.progress(match: 1, next: 2)
        p.becomeSnapshot(index: 10)
        p.becomeProbe()
        #expect(p.next == 11)
        var q = Self.progress(match: 1, next: 2)
        q.becomeSnapshot(index: 10)
        q.pendingSnapshot = 0  // a failed snapshot
        q.becomeProbe()
        #expect(q.next == 2)
    }
}
