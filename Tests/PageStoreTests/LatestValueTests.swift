@testable import PageStore
import Base
import Testing

/// `PageFile.withLatestValue(inBucket:rawKey:_:)` (the point-read path: no transaction
/// value, bucket roots remembered per committed txid) answers what a read transaction
/// answers after every commit: buckets appearing, growing, shrinking, emptied and deleted,
/// keys present and absent; it holds a reader registration while its body runs.
@Suite struct LatestValueTests {
    @Test func matchesReadTransactionsAcrossCommits() throws {
        let seed: UInt64 = 21
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        var rng = SeededGenerator(seed: seed)
        let names = [bytes("a"), bytes("b"), bytes("records")]
        func latest(_ name: [UInt8], _ key: [UInt8]) throws -> [UInt8]? {
            try key.withUnsafeBytes { k in
                try file.withLatestValue(inBucket: name, rawKey: k) { v in
                    #expect(file.stats.openReadTransactions == 1, "seed \(seed): a reader is registered")
                    return v.map { [UInt8]($0) }
                }
            }
        }
        func check(_ step: Int, _ keys: [[UInt8]]) throws {
            // What a read transaction answers, then (with no transaction open) the lookups.
            let want: [[[UInt8]?]] = try file.view { txn throws in
                try names.map { name in
                    let b = try txn.bucket(named: name)
                    return try keys.map { try b?.get($0) }
                }
            }
            for (n, name) in names.enumerated() {
                for (i, key) in keys.enumerated() {
                    #expect(try latest(name, key) == want[n][i], "seed \(seed) step \(step) bucket \(name) key \(key)")
                }
            }
            #expect(file.stats.openReadTransactions == 0, "seed \(seed) step \(step)")
        }
        var keys: [[UInt8]] = [bytes("absent")]
        try check(-1, keys)  // no bucket yet: the absent root is remembered for this txid only
        for step in 0..<60 {
            try file.update { txn throws in
                switch Int.random(in: 0..<10, using: &rng) {
                case 0:
                    _ = try txn.deleteBucket(named: names.randomElement(using: &rng)!)
                case 1:
                    if let b = try txn.bucket(named: names.randomElement(using: &rng)!) {
                        _ = try b.deleteRange(from: nil, to: nil)
                    }
                default:
                    let b = try txn.createBucketIfNeeded(named: names.randomElement(using: &rng)!)
                    for _ in 0..<Int.random(in: 1...400, using: &rng) {
                        let key = bytes("k\(Int.random(in: 0..<3000, using: &rng))")
                        if Int.random(in: 0..<5, using: &rng) == 0 {
                            _ = try b.delete(key)
                        } else {
                            let size = Int.random(in: 0..<20, using: &rng) == 0 ? 5000 : Int.random(in: 0...200, using: &rng)
                            try b.put(key, [UInt8](repeating: UInt8(step), count: size))
                            if keys.count < 400 { keys.append(key) }
                        }
                    }
                }
            }
            try check(step, keys)
        }
    }

    @Test func closedFileThrows() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        file.close()
        #expect(throws: PageStoreError.self) {
            try bytes("k").withUnsafeBytes { k in try file.withLatestValue(inBucket: bytes("a"), rawKey: k) { _ in 0 } }
        }
    }
}
