import Base
import RaftCore
import Testing
import TestThreads
@testable import WAL

/// The reference model: what each range's log must contain.
private struct ModelRange: Equatable {
    var hardState = HardState()
    var firstIndex: UInt64 = 1
    var entries: [Entry] = []  // entries[i].index == firstIndex + i
    var lastIndex: UInt64 { firstIndex + UInt64(entries.count) - 1 }
}

/// Random appends (with conflicts), hard states, compactions, snapshot resets, removals,
/// GC and reopens, applied to the WAL and to a model, compared after every step.
@Suite struct WALModelTests {
    @Test(arguments: 1...30)
    func randomHistoriesMatchTheModel(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread. (A
        // static function, not a closure body: Swift 6.3.1's SendNonSendable pass crashes on
        // this body as a closure.)
        try await onOwnThread { try Self.randomHistory(seed: seed) }
    }

    static func randomHistory(seed: UInt64) throws {
        do {
            var rng = SeededGenerator(seed: seed)
            let dir = TempDir()
            let options = WALOptions(segmentBytes: 1500 + Int.random(in: 0..<3000, using: &rng), preallocate: false,
                                     cacheBytesPerRange: [0, 100, 1 << 20][Int.random(in: 0..<3, using: &rng)])
            var (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
            var model: [RangeID: ModelRange] = [:]
            var applied: [RangeID: UInt64] = [:]
            var term: UInt64 = 1
            var trace: [String] = []
            for step in 0..<400 {
                let range = RangeID(UInt64.random(in: 1...4, using: &rng))
                var m = model[range] ?? ModelRange()
                let roll = Int.random(in: 0..<100, using: &rng)
                var records: [WALRecord] = []
                if roll < 55 {
                    // Append, sometimes overwriting a suffix (never below what was applied).
                    let floor = max(m.firstIndex, (applied[range] ?? 0) + 1)
                    let start = m.entries.isEmpty || Bool.random(using: &rng) ? m.lastIndex + 1
                        : UInt64.random(in: floor...(m.lastIndex + 1), using: &rng)
                    if Int.random(in: 0..<5, using: &rng) == 0 { term += 1 }
                    let es = makeEntries(term: term, from: start, count: Int.random(in: 1...6, using: &rng),
                                         size: Int.random(in: 0...80, using: &rng), tag: UInt8(step % 251))
                    m.entries.removeLast(Int(m.lastIndex + 1 - start))
                    m.entries += es
                    records.append(.entries(range, es))
                    trace.append("append \(range) \(start)+\(es.count) t\(term)")
                    if Bool.random(using: &rng) {
                        m.hardState = HardState(term: term, vote: 1, commit: min(m.lastIndex, m.hardState.commit + 3))
                        records.append(.hardState(range, m.hardState))
                    }
                } else if roll < 65, !m.entries.isEmpty {
                    let to = UInt64.random(in: m.firstIndex...m.lastIndex, using: &rng)
                    let t = m.entries[Int(to - m.firstIndex)].term
                    m.entries.removeFirst(Int(to - m.firstIndex) + 1)
                    m.firstIndex = to + 1
                    applied[range] = max(applied[range] ?? 0, to)
                    records.append(.compact(range, firstIndex: to + 1, term: t))
                    trace.append("compact \(range) to \(to + 1)")
                    _ = t
                } else if roll < 70 {
                    let index = m.lastIndex + UInt64.random(in: 1...20, using: &rng)
                    m.entries = []
                    m.firstIndex = index + 1
                    applied[range] = index
                    records.append(.snapshotReset(range, index: index, term: term))
                    trace.append("snapshot \(range) at \(index)")
                } else if roll < 73, model[range] != nil {
                    model[range] = nil
                    applied[range] = nil
                    try wal.append([.rangeRemoved(range)])
                    trace.append("remove \(range)")
                    try compare(wal, model, seed: seed, step: step, trace: trace)
                    continue
                } else if roll < 85 {
                    for (r, mr) in model.sorted(by: { $0.key < $1.key }) where !mr.entries.isEmpty {
                        applied[r] = max(applied[r] ?? 0, UInt64.random(in: mr.firstIndex...mr.lastIndex, using: &rng))
                    }
                    let report = try wal.collectGarbage(durableApplied: applied)
                    trace.append("gc \(applied.sorted { $0.key < $1.key }) deleted \(report.deletedSegments)")
                    for (r, var mr) in model.sorted(by: { $0.key < $1.key }) {
                        let first = wal.bounds(of: r)?.first ?? mr.firstIndex
                        #expect(first <= (applied[r] ?? 0) + 1 || first == mr.firstIndex, "seed \(seed) step \(step)")
                        if first > mr.firstIndex {
                            mr.entries.removeFirst(Int(min(first - mr.firstIndex, UInt64(mr.entries.count))))
                            mr.firstIndex = first
                            model[r] = mr
                        }
                    }
                    _ = report
                    try compare(wal, model, seed: seed, step: step, trace: trace)
                    continue
                } else {
                    wal.close()
                    trace.append("reopen")
                    (wal, _) = try WriteAheadLog.open(directory: dir.path, options: options)
                    try compare(wal, model, seed: seed, step: step, trace: trace)
                    continue
                }
                try wal.append(records)
                model[range] = m
                try compare(wal, model, seed: seed, step: step, trace: trace)
            }
        }
    }

    private static func compare(_ wal: WriteAheadLog, _ model: [RangeID: ModelRange], seed: UInt64, step: Int, trace: [String]) throws {
        let context = "reproduce with seed \(seed), step \(step); last operations: \(trace.suffix(12).joined(separator: "; "))"
        #expect(Set(wal.rangeIDs) == Set(model.keys), "\(context)")
        for (r, m) in model {
            guard let (first, last) = wal.bounds(of: r) else {
                Issue.record("range \(r) missing; \(context)")
                continue
            }
            #expect(first == m.firstIndex && last == m.lastIndex, "\(r) bounds \(first)...\(last), model \(m.firstIndex)...\(m.lastIndex); \(context)")
            #expect(wal.hardState(of: r) ?? HardState() == m.hardState, "\(r) hard state; \(context)")
            if !m.entries.isEmpty {
                #expect(try wal.entries(of: r, from: first, to: last + 1) == m.entries, "\(r) entries; \(context)")
            }
        }
    }
}
