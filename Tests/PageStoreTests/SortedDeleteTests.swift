@testable import PageStore
import Base
import Testing
import TestThreads

/// `WriteBucket.deleteSorted` (session 14: the write buffer's trim deletes a sorted batch one
/// leaf at a time) and `put(rawKey:rawValue:)` (its flush copies values straight from one
/// bucket's leaf into another's), against a dictionary model, across commits and a reopen.
/// Every failure message carries the seed.
@Suite struct SortedDeleteTests {
    static func key(_ i: Int) -> [UInt8] { bytes("k" + String(100_000 + i)) }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func sortedBatchesMatchAModel(seed: UInt64) async throws {
        try await onOwnThread {
            var g = SeededGenerator(seed: seed)
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.durable = false
            var file = try PageFile.open(path: dir.file(), options: options)
            var model: [[UInt8]: [UInt8]] = [:]
            for round in 0..<30 {
                let context = "seed \(seed) round \(round)"
                try file.update { txn throws in
                    let kv = try txn.createBucketIfNeeded(named: bytes("kv"))
                    let src = try txn.createBucketIfNeeded(named: bytes("src"))
                    // Puts: plain and copied from another bucket's value bytes.
                    for _ in 0..<Int.random(in: 0...400, using: &g) {
                        let k = Self.key(Int.random(in: 0..<3000, using: &g))
                        let v = [UInt8](repeating: UInt8.random(in: 0...255, using: &g), count: Int.random(in: 0...300, using: &g))
                        if Bool.random(using: &g) {
                            try kv.put(k, v)
                        } else {
                            try src.put(k, v)
                            try src.withValue(forKey: k) { stored in
                                try k.withUnsafeBytes { try kv.put(rawKey: $0, rawValue: stored!) }
                            }
                        }
                        model[k] = v
                    }
                    // A sorted batch: existing keys, absent keys, runs and duplicates.
                    var batch: [[UInt8]] = []
                    let start = Int.random(in: 0..<3000, using: &g)
                    for _ in 0..<Int.random(in: 0...600, using: &g) {
                        let k = Int.random(in: 0...4, using: &g) == 0
                            ? Self.key(Int.random(in: 0..<3000, using: &g))
                            : Self.key(min(2999, start + Int.random(in: 0..<400, using: &g)))
                        batch.append(k)
                        if Int.random(in: 0..<20, using: &g) == 0 { batch.append(k) }
                    }
                    batch.sort { $0.lexicographicallyPrecedes($1) }
                    let expected = Set(batch).filter { model[$0] != nil }.count
                    let removed = try kv.deleteSorted(batch)
                    #expect(removed == expected, "\(context)")
                    for k in batch { model[k] = nil }
                    #expect(kv.count == model.count, "\(context)")
                    if Int.random(in: 0..<6, using: &g) == 0 { throw CancelRound() }
                } catchRound: {
                    // A rolled-back round: the model goes back to the file's committed state.
                    model = try Self.contents(file)
                }
                let got = try Self.contents(file)
                #expect(got == model, "\(context): contents after the commit")
                #expect(try file.check().problems.isEmpty, "\(context)")
                if round % 10 == 9 {
                    file.close()
                    file = try PageFile.open(path: dir.file(), options: options)
                    #expect(try Self.contents(file) == model, "\(context): after reopen")
                }
            }
            file.close()
        }
    }

    struct CancelRound: Error {}

    static func contents(_ file: PageFile) throws -> [[UInt8]: [UInt8]] {
        try file.view { txn throws in
            var out: [[UInt8]: [UInt8]] = [:]
            try txn.bucket(named: bytes("kv"))?.scan(from: nil, to: nil) { k, v in
                out[Array(k)] = Array(v)
                return true
            }
            return out
        }
    }
}

extension PageFile {
    /// Runs `update`; a `SortedDeleteTests.CancelRound` thrown by `body` rolls it back and runs
    /// `rolledBack`.
    fileprivate func update(_ body: (inout WriteTransaction) throws -> Void, catchRound rolledBack: () throws -> Void) throws {
        do {
            try update(body)
        } catch is SortedDeleteTests.CancelRound {
            try rolledBack()
        }
    }
}
