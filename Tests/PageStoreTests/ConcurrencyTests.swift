@testable import PageStore
import Dispatch
import Foundation
import Synchronization
import Testing
import TestThreads

/// Readers on other threads see consistent snapshots while a writer commits, and keep seeing
/// their snapshot (pages are not reused under them, remaps keep old mappings alive).
@Suite struct ConcurrencyTests {
    static let keys = (0..<60).map { bytes("k\(format($0))") }

    static func value(_ n: Int, _ i: Int) -> [UInt8] {
        // Varying sizes so leaves split and merge between commits; n is in the first 8 bytes.
        withUnsafeBytes(of: UInt64(n).littleEndian, Array.init) + [UInt8](repeating: UInt8(i & 0xFF), count: (n * 37 + i * 11) % 300)
    }

    static func number(_ v: UnsafeRawBufferPointer) -> Int { Int(truncatingIfNeeded: v.loadUnaligned(as: UInt64.self)) }

    @Test func readersSeeConsistentSnapshotsDuringCommits() async throws {
        // Long synchronous work: on a thread of its own, not a cooperative pool thread.
        try await onOwnThread {
            let dir = TempDir(); defer { dir.cleanup() }
            var options = PageFileOptions()
            options.initialMapBytes = 16 << 10   // force remaps while readers are running
            options.growthStepBytes = 16 << 10
            let file = try PageFile.open(path: dir.file(), options: options)
            defer { file.close() }
            try file.update { txn in
                let b = try txn.createBucketIfNeeded(named: bytes("kv"))
                for (i, k) in Self.keys.enumerated() { try b.put(k, Self.value(0, i)) }
            }
            let commits = 150
            let done = Atomic<Bool>(false)
            let problems = Mutex<[String]>([])
            let views = Atomic<Int>(0)
            let group = DispatchGroup()
            for reader in 0..<3 {
                onOwnThread(group) {
                    while !done.load(ordering: .acquiring) {
                        do {
                            try file.view { txn throws in
                                let b = try txn.bucket(named: bytes("kv"))!
                                var seen: Int? = nil
                                var firstPass: [[UInt8]] = []
                                try b.scan(from: bytes("k"), to: bytes("l")) { _, v in
                                    let n = Self.number(v)
                                    if seen == nil { seen = n }
                                    if n != seen { problems.withLock { $0.append("reader \(reader): mixed snapshot \(n) vs \(seen!)") } }
                                    firstPass.append([UInt8](v))
                                    return true
                                }
                                // Hold the snapshot while the writer commits, then read it again.
                                if reader == 0 { for _ in 0..<20 { sched_yield_compat() } }
                                var again: [[UInt8]] = []
                                try b.scan(from: bytes("k"), to: bytes("l")) { _, v in again.append([UInt8](v)); return true }
                                if again != firstPass { problems.withLock { $0.append("reader \(reader): snapshot changed under it") } }
                                if firstPass.count != Self.keys.count { problems.withLock { $0.append("reader \(reader): \(firstPass.count) keys") } }
                            }
                            views.add(1, ordering: .relaxed)
                        } catch {
                            problems.withLock { $0.append("reader \(reader): \(error)") }
                        }
                    }
                }
            }
            // Let the readers get going before committing (threads may start late on a busy machine).
            while views.load(ordering: .relaxed) < 3 && problems.withLock({ $0.isEmpty }) { sched_yield_compat() }
            let viewsBefore = views.load(ordering: .relaxed)
            for n in 1...commits {
                try file.update { txn in
                    let b = try txn.bucket(named: bytes("kv"))!
                    if n % 7 == 0 {
                        // Churn the tree shape: delete everything, re-add.
                        try b.deleteRange(from: nil, to: nil)
                    }
                    for (i, k) in Self.keys.enumerated() { try b.put(k, Self.value(n, i)) }
                    if n % 5 == 0 { try b.put(bytes("zbig"), [UInt8](repeating: UInt8(n & 0xFF), count: 30_000)) }
                    if n % 5 == 1 { try b.delete(bytes("zbig")) }
                }
            }
            done.store(true, ordering: .releasing)
            group.wait()
            let found = problems.withLock { $0 }
            #expect(found.isEmpty, "\(found.prefix(5))")
            print("ConcurrencyTests: \(views.load(ordering: .relaxed) - viewsBefore) views during \(commits) commits")
            #expect(views.load(ordering: .relaxed) > viewsBefore, "readers ran while the writer committed")
            try file.view { txn throws in
                try txn.bucket(named: bytes("kv"))!.scan(from: bytes("k"), to: bytes("l")) { _, v in
                    #expect(Self.number(v) == commits)
                    return true
                }
            }
            #expect(file.stats.remaps > 0, "the file outgrew its mapping while readers ran")
            #expect(try file.check().problems.isEmpty)
        }
    }

    @Test func pagesFreedUnderAnOpenReaderAreNotReusedUntilItFinishes() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let file = try PageFile.open(path: dir.file())
        defer { file.close() }
        try file.update { txn in
            let b = try txn.createBucketIfNeeded(named: bytes("kv"))
            for (i, k) in Self.keys.enumerated() { try b.put(k, Self.value(0, i)) }
        }
        let readerHolding = DispatchSemaphore(value: 0)
        let writerDone = DispatchSemaphore(value: 0)
        let seenAfter = Mutex<[Int]>([])
        let group = DispatchGroup()
        onOwnThread(group) {
            try? file.view { txn throws in
                let b = try txn.bucket(named: bytes("kv"))!
                readerHolding.signal()
                writerDone.wait()
                var ns: [Int] = []
                try b.scan(from: bytes("k"), to: bytes("l")) { _, v in ns.append(Self.number(v)); return true }
                seenAfter.withLock { $0 = ns }
            }
        }
        readerHolding.wait()
        for n in 1...30 {
            try file.update { txn in
                let b = try txn.bucket(named: bytes("kv"))!
                for (i, k) in Self.keys.enumerated() { try b.put(k, Self.value(n, i)) }
            }
        }
        let whileReading = file.stats
        #expect(whileReading.openReadTransactions == 1)
        #expect(whileReading.pendingPages > 0, "pages freed while the reader is open stay pending")
        writerDone.signal()
        group.wait()
        #expect(seenAfter.withLock { $0 } == Array(repeating: 0, count: Self.keys.count), "the reader kept its snapshot")
        try file.update { txn in try txn.bucket(named: bytes("kv"))!.put(Self.keys[0], Self.value(31, 0)) }
        let after = file.stats
        #expect(after.pendingPages < whileReading.pendingPages, "released once the reader finished")
        #expect(try file.check().problems.isEmpty)
    }
}

/// Runs `body` on a thread of its own, tracked by `group`. Not on Dispatch's global queue:
/// on Linux its threads are shared with Swift's cooperative pool (2 on this machine), so in a
/// loaded parallel test run the readers never started while the test spun waiting for them.
func onOwnThread(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    let thread = Thread {
        body()
        group.leave()
    }
    thread.start()
}

func sched_yield_compat() {
    var x = 0
    for i in 0..<10_000 { x &+= i }
    withExtendedLifetime(x) {}
}
