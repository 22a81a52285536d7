#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing
import TestThreads

@testable import MVCC

/// A point Range (one key, no count-only, no revision filters) is answered through
/// `LatestRecordView` (one `withLatestValue` lookup, no read transaction); any other Range
/// through a read transaction. The same question asked both ways — `rangeEnd` empty versus
/// `rangeEnd = key + [0]`, which names the same single key — must get the same answer or
/// the same error, at every step of a random history with pending and committed writes,
/// deletions, leases and compactions, through `range` and `range(_:closedAt:)`.
@Suite struct PointReadPathTests {
    @Test func pointPathAnswersAsTheGeneralPath() async throws {
        try await onOwnThread {
            let seed: UInt64 = 31
            let path = "/tmp/flotilla-point-read-\(getpid()).db"
            unlink(path)
            defer { unlink(path) }
            var options = PageFileOptions()
            options.durable = false
            let backend = try PageStoreBackend.open(path: path, options: options)
            defer { backend.file.close() }
            let store = try freshStore(backend)
            var rng = SeededGenerator(seed: seed)
            let universe = (0..<40).map { Array("key\($0)".utf8) }
            var rev: Int64 = 1
            var applied: UInt64 = 0
            for step in 0..<3000 {
                let k = universe.randomElement(using: &rng)!
                switch Int.random(in: 0..<20, using: &rng) {
                case 0..<9:
                    rev += 1
                    _ = try store.put(PutRequest(key: k, value: Array("v\(step)".utf8), lease: Int64.random(in: 0...2, using: &rng)), revision: rev)
                case 9..<11:
                    rev += 1
                    _ = try store.deleteRange(DeleteRangeRequest(key: k), revision: rev)
                case 11..<14:
                    applied += 1
                    try store.commit(appliedIndex: applied)
                case 14:
                    // Refused (compacted / future) when the revision is not in range: ignored.
                    _ = try? store.compact(Int64.random(in: max(1, store.compactedRevision)...rev, using: &rng))
                default:
                    break
                }
                for _ in 0..<3 {
                    var point = RangeRequest(key: universe.randomElement(using: &rng)!)
                    if Bool.random(using: &rng) {
                        point.revision = Int64.random(in: max(0, store.compactedRevision - 2)...(rev + 1), using: &rng)
                    }
                    if Int.random(in: 0..<4, using: &rng) == 0 { point.keysOnly = true }
                    if Int.random(in: 0..<4, using: &rng) == 0 { point.limit = Int64.random(in: 1...2, using: &rng) }
                    point.sortOrder = [.none, .ascend, .descend].randomElement(using: &rng)!
                    point.sortTarget = [.key, .version, .create, .mod, .value].randomElement(using: &rng)!
                    #expect(point.isPlainPointRead)
                    var general = point
                    general.rangeEnd = point.key + [0]
                    #expect(!general.isPlainPointRead)
                    let want = Result { try store.range(general) }
                    let got = Result { try store.range(point) }
                    #expect(Self.same(got, want), "seed \(seed) step \(step) \(point): \(got) vs \(want)")
                    let closedAt = rev + Int64.random(in: 0...2, using: &rng)
                    let wantClosed = Result { try store.range(general, closedAt: closedAt) }
                    let gotClosed = Result { try store.range(point, closedAt: closedAt) }
                    #expect(Self.same(gotClosed, wantClosed), "seed \(seed) step \(step) \(point) closed at \(closedAt)")
                }
            }
        }
    }

    /// Equal responses, or the same MVCC error.
    static func same(_ a: Result<RangeResponse, any Error>, _ b: Result<RangeResponse, any Error>) -> Bool {
        switch (a, b) {
        case (.success(let x), .success(let y)): return x == y
        case (.failure(let x as MVCCError), .failure(let y as MVCCError)): return x == y
        default: return false
        }
    }

    @Test func droppedRangeRefusesPointReads() throws {
        let backend = InMemoryBackend()
        let store = try freshStore(backend)
        try store.put("a", "1", at: 2)
        try store.commit(appliedIndex: 1)
        try store.drop()
        #expect(mvccError { _ = try store.range(RangeRequest(key: b("a"))) } != nil)
    }
}
