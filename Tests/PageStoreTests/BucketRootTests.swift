@testable import PageStore
import Base
import Testing

/// `ReadTransaction.bucketRoot(named:)` + `withValue(in:rawKey:)` (the reference-count-free
/// point lookup MVCC uses) answer exactly what `Bucket.get` answers, in a multi-level tree
/// with inline and blob values, for present and absent keys.
@Suite struct BucketRootTests {
    @Test func rawLookupsMatchBucketGet() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        var rng = SeededGenerator(seed: 5)
        var keys: [[UInt8]] = []
        try file.update { txn throws in
            let b = try txn.createBucketIfNeeded(named: bytes("kv"))
            for i in 0..<3000 {
                let key = bytes("k\(UInt64.random(in: 0...UInt64.max, using: &rng))")
                let size = i % 500 == 0 ? 5000 : Int.random(in: 0...300, using: &rng)
                try b.put(key, [UInt8](repeating: UInt8(i & 0xFF), count: size))
                keys.append(key)
            }
        }
        try file.view { txn throws in
            #expect(try txn.bucketRoot(named: bytes("missing")) == nil)
            let b = try #require(try txn.bucket(named: bytes("kv")))
            let root = try #require(try txn.bucketRoot(named: bytes("kv")))
            #expect(root.count == b.count)
            for key in keys + [bytes("absent"), bytes("k"), bytes("l")] {
                let raw = try key.withUnsafeBytes { k in try txn.withValue(in: root, rawKey: k) { $0.map { [UInt8]($0) } } }
                #expect(raw == (try b.get(key)), "seed 5, key \(key)")
            }
        }
    }
}
