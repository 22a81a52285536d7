import Base
import MVCC
@testable import Node
import Testing

/// Issue 6, finding 2: the de-duplication window is counted in log entries (never in
/// wall-clock time), so every replica decides alike for the same log.
@Suite struct DuplicateApplyWindowTests {
    static func put(_ r: Int64) -> CommandResult { .put(PutResponse(revision: r)) }
    /// A router request ID: router node in the high bits, counter below.
    static func id(router: UInt64, _ counter: UInt64) -> UInt64 { router << AppliedRequests.counterBits | counter }

    @Test func duplicateIsDecidedByIndexDistanceOnly() {
        var a = AppliedRequests(windowEntries: 5)
        a.record(7, Self.put(70), index: 10)
        #expect(a.duplicate(of: 7, at: 10) == nil, "the entry itself is not its own duplicate")
        #expect(a.duplicate(of: 7, at: 11) == .success(Self.put(70)))
        #expect(a.duplicate(of: 7, at: 15) == .success(Self.put(70)), "5 entries later: still inside")
        #expect(a.duplicate(of: 7, at: 16) == nil, "6 entries later: outside, even though still stored")
        #expect(a.duplicate(of: 8, at: 11) == nil)
        a.record(7, Self.put(99), index: 12)
        #expect(a.record(of: 7)?.index == 10, "the first application wins")
    }

    @Test func evictionByIndexRaisesThePerRouterWatermark() {
        var a = AppliedRequests(windowEntries: 3)
        for i in UInt64(1)...6 { a.record(Self.id(router: 2, 100 + i), Self.put(Int64(i)), index: i) }
        a.evict(below: 4)
        #expect(a.count == 3)
        #expect(a.record(of: Self.id(router: 2, 103)) == nil && a.record(of: Self.id(router: 2, 104)) != nil)
        #expect(a.evictedCounter[2] == 103)
        // A retry of an evicted request: refused (outcome unknown), never proposed again.
        guard case .failure(.proposalDropped(let why))? = a.result(of: Self.id(router: 2, 102)) else {
            Issue.record("an evicted request's retry was not refused"); return
        }
        #expect(why.contains("de-duplication window"))
        #expect(a.result(of: Self.id(router: 2, 105)) == .success(Self.put(5)))
        #expect(a.result(of: Self.id(router: 2, 200)) == nil, "a newer request of the router")
        #expect(a.result(of: Self.id(router: 3, 50)) == nil, "another router")
        #expect(a.result(of: Self.id(router: 2, 103) - AppliedRequests.retryHorizon) == nil,
                "a counter far below the watermark is a wrapped counter, not a retry")
        // Identical inputs, identical table: replay the same records and evictions.
        var b = AppliedRequests(windowEntries: 3)
        for i in UInt64(1)...6 { b.record(Self.id(router: 2, 100 + i), Self.put(Int64(i)), index: i) }
        b.evict(below: 4)
        for i in UInt64(1)...6 {
            #expect(a.duplicate(of: Self.id(router: 2, 100 + i), at: 7) == b.duplicate(of: Self.id(router: 2, 100 + i), at: 7))
        }
    }

    @Test func lostAndUncertainRecords() {
        var a = AppliedRequests(windowEntries: 10)
        a.recordLost(1, index: 3, revision: 30)
        a.recordUncertain(2, index: 4, revision: 40)
        guard case .failure? = a.duplicate(of: 1, at: 5) else { Issue.record("a lost request applied twice"); return }
        #expect(a.duplicate(of: 2, at: 5) == nil, "uncertain: a second entry still applies")
        guard case .failure? = a.result(of: 2) else { Issue.record("an uncertain retry was proposed"); return }
    }

    @Test func snapshotCarriesTheWindowAndTheWatermarks() throws {
        var a = AppliedRequests(windowEntries: 4)
        for i in UInt64(1)...10 {
            a.record(Self.id(router: 1, i), .txn(TxnResponse(revision: Int64(i), succeeded: true)), index: i)
        }
        a.recordLost(Self.id(router: 3, 1), index: 11, revision: 110)
        a.evict(below: 3)
        let data = a.snapshotData(at: 9)
        let b = try AppliedRequests.fromSnapshot(data, windowEntries: 4)
        // A replica applying 10 onward consults indexes 6...9: exactly those are carried.
        for i in UInt64(1)...11 {
            let id = i == 11 ? Self.id(router: 3, 1) : Self.id(router: 1, i)
            #expect((b.record(of: id) != nil) == (6...9).contains(i), "index \(i)")
            for next in UInt64(10)...13 {
                #expect(b.duplicate(of: id, at: next) == (i <= 9 ? a.duplicate(of: id, at: next) : nil), "index \(i) at \(next)")
            }
        }
        #expect(b.evictedCounter[1] == 2, "the sender's watermark travels")
        #expect(try AppliedRequests.fromSnapshot([], windowEntries: 4).count == 0, "an older sender's empty data")
        #expect(throws: DecodingError.self) { _ = try AppliedRequests.fromSnapshot(data + [0], windowEntries: 4) }
    }
}

extension DuplicateApplyWindowTests {
    /// The table travels ahead of the LZ4 segment stream as prefix pieces, split at any size.
    @Test func prefixPiecesRoundTripAndNeverLookLikeLZ4() throws {
        var a = AppliedRequests(windowEntries: 100)
        for i in UInt64(1)...50 { a.record(Self.id(router: 1, i), Self.put(Int64(i)), index: i) }
        let data = a.snapshotData(at: 50)
        let pieces = AppliedRequests.prefixPieces(data, pieceBytes: 100)
        #expect(pieces.count == (data.count + 99) / 100)
        let joined = pieces.flatMap { AppliedRequests.prefixPayload($0).map(Array.init) ?? [] }
        #expect(joined == data)
        let b = try AppliedRequests.fromSnapshot(joined, windowEntries: 100)
        #expect(b.duplicate(of: Self.id(router: 1, 7), at: 51) == .success(Self.put(7)))
        #expect(AppliedRequests.prefixPayload([0x04, 0x22, 0x4D, 0x18, 0, 0, 0, 0, 0]) == nil, "an LZ4 frame start")
    }
}
