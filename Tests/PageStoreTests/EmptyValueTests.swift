@testable import PageStore
import Testing

/// Empty values (MVCC's history and lease buckets store only keys). Regression for the
/// robustness runs' crash of every node at once (pause seed 2020, partition-follower seed
/// 2118, delay seed 8017): overwriting a key with an empty value in a leaf read from disk
/// that had no new bytes yet left the entry pointing into a node arena that was never
/// allocated (an empty append allocated nothing), and the commit's serialisation unwrapped it.
@Suite struct EmptyValueTests {
    @Test func overwritingWithAnEmptyValueInALeafReadFromDiskCommits() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        try file.update { txn throws in
            let b = try txn.createBucketIfNeeded(named: bytes("leases"))
            try b.put(bytes("lease-1/key-a"), [])
            try b.put(bytes("lease-1/key-b"), bytes("x"))
        }
        // A new transaction materialises the leaf from its page; the first change to it is
        // the empty overwrite (re-attaching a key to the lease it already has).
        try file.update { txn throws in
            let b = try #require(try txn.bucket(named: bytes("leases")))
            try b.put(bytes("lease-1/key-a"), [])
            try b.put(bytes("lease-1/key-b"), [])
        }
        try file.view { txn throws in
            let b = try #require(try txn.bucket(named: bytes("leases")))
            #expect(try b.get(bytes("lease-1/key-a")) == [])
            #expect(try b.get(bytes("lease-1/key-b")) == [])
            #expect(b.count == 2)
        }
        #expect(try file.check().problems.isEmpty)
    }
}
