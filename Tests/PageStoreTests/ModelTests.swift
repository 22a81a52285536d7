@testable import PageStore
import Base
import Testing
import TestThreads

/// Model-based randomized test: random transactions of puts, deletes, deleteRanges and
/// bucket create/drop against a dictionary model; reads inside the write transaction, scans
/// and cursors after commit, rollbacks, and reopening in the middle. Every failure message
/// carries the seed.
@Suite struct ModelTests {
    @Test(arguments: [1, 2, 3, 0xDEAD_BEEF] as [UInt64])
    func randomTransactionsMatchModel(seed: UInt64) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try run(seed: seed, pageSize: 4096, rounds: 60)
        }
    }

    /// The same workload on the smallest and a large page size (different inline limits,
    /// fan-out and blob run lengths).
    @Test(arguments: [1024, 16384] as [Int])
    func otherPageSizesMatchModel(pageSize: Int) async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            try run(seed: UInt64(pageSize), pageSize: pageSize, rounds: 30)
        }
    }

    func run(seed: UInt64, pageSize: Int, rounds: Int) throws {
        let dir = TempDir(); defer { dir.cleanup() }
        var options = PageFileOptions()
        options.pageSize = pageSize
        options.growthStepBytes = 64 << 10
        var file = try PageFile.open(path: dir.file(), options: options)
        var gen = OpGenerator(seed: seed)
        var model = Model()
        for round in 0..<rounds {
            let context = "seed \(seed) page size \(pageSize) round \(round)"
            let ops = (0..<Int.random(in: 1...120, using: &gen.g)).map { _ in gen.op() }
            let rollback = Int.random(in: 0..<10, using: &gen.g) == 0
            var next = model
            struct Rollback: Error {}
            do {
                try file.update { txn in
                    for op in ops {
                        try perform(op, &txn)
                        next.apply(op)
                        // Read-your-writes inside the transaction.
                        if case .put(let b, let k, let v) = op {
                            #expect(try txn.bucket(named: b)?.get(k) == v, "\(context): read own put")
                        }
                        if case .delete(let b, let k) = op, let bucket = try txn.bucket(named: b) {
                            #expect(try bucket.get(k) == nil, "\(context): read own delete")
                        }
                    }
                    for (name, _) in next.buckets {
                        let b = try #require(try txn.bucket(named: name), "\(context)")
                        #expect(b.count == next.buckets[name]!.count, "\(context): in-txn count of \(name)")
                    }
                    if rollback { throw Rollback() }
                }
                model = next
            } catch is Rollback {
                // Model unchanged.
            }
            #expect(try difference(file, model) == nil, "\(context)")
            try checkScans(file, model, &gen.g, context)
            if round % 10 == 9 {
                let report = try file.check()
                #expect(report.problems.isEmpty, "\(context): \(report.problems.prefix(5))")
                #expect(report.keys == model.buckets.values.reduce(0) { $0 + $1.count }, "\(context)")
            }
            if Int.random(in: 0..<8, using: &gen.g) == 0 {
                file.close()
                file = try PageFile.open(path: dir.file(), options: options)
                #expect(file.pageSize == pageSize)
                #expect(try difference(file, model) == nil, "\(context) after reopen")
            }
        }
        file.close()
    }

    /// Random bounded scans (both directions, early stop) and cursor walks against the model.
    func checkScans(_ file: PageFile, _ model: Model, _ g: inout SeededGenerator, _ context: String) throws {
        var gen = OpGenerator(seed: g.next())
        try file.view { txn throws in
            for (name, _) in model.buckets {
                let b = try #require(try txn.bucket(named: name))
                let all = model.sorted(name)
                for _ in 0..<5 {
                    let a = gen.key(), c = gen.key()
                    let lo: [UInt8]? = Int.random(in: 0..<5, using: &g) == 0 ? nil : min(a, c)
                    let hi: [UInt8]? = Int.random(in: 0..<5, using: &g) == 0 ? nil : max(a, c)
                    let limit = Int.random(in: 1...50, using: &g)
                    let reverse = Bool.random(using: &g)
                    var want = all.filter { inRange($0.0, lo, hi) }.map(\.0)
                    if reverse { want.reverse() }
                    want = Array(want.prefix(limit))
                    var got: [[UInt8]] = []
                    try b.scan(from: lo, to: hi, reverse: reverse) { k, _ in got.append([UInt8](k)); return got.count < limit }
                    #expect(got == want, "\(context): scan \(name) \(lo as Any)..<\(hi as Any) reverse \(reverse) limit \(limit)")
                }
                // Cursor: seek to a random key, then walk a few steps each way.
                let target = gen.key()
                var cursor = b.makeCursor()
                let idx = all.firstIndex { !$0.0.lexicographicallyPrecedes(target) }
                #expect(try cursor.seek(target) == (idx != nil), "\(context): seek")
                if var i = idx {
                    #expect(try cursor.entry()?.key == all[i].0, "\(context): seek lands")
                    for _ in 0..<3 {
                        let moved = try cursor.next()
                        i += 1
                        #expect(moved == (i < all.count), "\(context): next")
                        if !moved { break }
                        #expect(try cursor.entry()?.key == all[i].0, "\(context): next key")
                    }
                }
                if try cursor.last() {
                    var i = all.count - 1
                    #expect(try cursor.entry()?.key == all[i].0, "\(context): last")
                    while try cursor.prev() {
                        i -= 1
                        if i < all.count - 20 { break }
                        #expect(try cursor.entry()?.key == all[i].0, "\(context): prev")
                    }
                } else {
                    #expect(all.isEmpty, "\(context): last on non-empty bucket")
                }
            }
        }
    }
}

private func min(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { a.lexicographicallyPrecedes(b) ? a : b }
private func max(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { a.lexicographicallyPrecedes(b) ? b : a }
