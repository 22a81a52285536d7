import Testing

/// The guarantee checkers catch crafted violations (and pass a correct history), so the
/// real-process test can fail.
@Suite("guarantee checkers")
struct GuaranteeCheckTests {
    static func w(_ key: String, _ value: String, rev: Int64, _ call: UInt64, _ ret: UInt64) -> TimedOp {
        TimedOp(kind: .write, key: Array(key.utf8), value: Array(value.utf8), revision: rev, callNs: call, returnNs: ret, who: "t")
    }

    static func e(_ key: String, _ value: String, _ rev: Int64) -> WatchedEvent {
        WatchedEvent(key: Array(key.utf8), value: Array(value.utf8), revision: rev, isDelete: false)
    }

    static func kv(_ value: String, _ rev: Int64) -> KVState { KVState(value: Array(value.utf8), modRevision: rev) }

    @Test("revision order: overlapping writes may go either way; a later write below an earlier one fails")
    func revisionOrder() {
        let ok = [Self.w("a", "1", rev: 10, 0, 100), Self.w("b", "2", rev: 5, 50, 150), Self.w("c", "3", rev: 11, 200, 300)]
        #expect(GuaranteeCheck.revisionOrder(ok).isEmpty)
        let bad = ok + [Self.w("d", "4", rev: 9, 160, 170)]
        let f = GuaranteeCheck.revisionOrder(bad)
        #expect(f.count == 1 && f[0].contains("d=4 rev 9") && f[0].contains("a=1 rev 10"), "\(f)")
        let staleRead = ok + [TimedOp(kind: .read, key: [], value: [], revision: 10, callNs: 400, returnNs: 410, who: "r")]
        #expect(GuaranteeCheck.revisionOrder(staleRead).count == 1)
        let shared = [Self.w("a", "1", rev: 10, 0, 100), Self.w("b", "2", rev: 10, 0, 100)]
        #expect(GuaranteeCheck.revisionOrder(shared).first?.contains("share revision 10") == true)
    }

    @Test("watcher: a complete, ordered watch passes; missed, duplicated, early and foreign events fail")
    func watcher() {
        let acked = [Self.w("a", "1", rev: 3, 0, 1), Self.w("b", "2", rev: 5, 0, 1), Self.w("a", "3", rev: 7, 0, 1)]
        let final: [[UInt8]: KVState] = [Array("a".utf8): Self.kv("3", 7), Array("b".utf8): Self.kv("2", 5)]
        let good = WatcherLog(id: 0, readRevision: 4, snapshot: [Array("a".utf8): Self.kv("1", 3)],
                              events: [Self.e("b", "2", 5), Self.e("a", "3", 7)], coveredThrough: 8)
        #expect(GuaranteeCheck.watcher(good, acked: acked, unknown: [], finalRevision: 8, finalState: final).isEmpty)
        var missed = good
        missed.events.removeFirst()
        #expect(GuaranteeCheck.watcher(missed, acked: acked, unknown: [], finalRevision: 8, finalState: final)
            .contains { $0.contains("missed the event") })
        var twice = good
        twice.events.append(Self.e("a", "3", 7))
        #expect(GuaranteeCheck.watcher(twice, acked: acked, unknown: [], finalRevision: 8, finalState: final)
            .contains { $0.contains("delivered twice") })
        var early = good
        early.events.insert(Self.e("a", "1", 3), at: 0)
        #expect(GuaranteeCheck.watcher(early, acked: acked, unknown: [], finalRevision: 8, finalState: final)
            .contains { $0.contains("at or below the read revision") })
        var foreign = good
        foreign.events.append(Self.e("c", "zz", 8))
        #expect(GuaranteeCheck.watcher(foreign, acked: acked, unknown: [], finalRevision: 8, finalState: final)
            .contains { $0.contains("no client wrote") })
        var behind = good
        behind.coveredThrough = 6
        #expect(!GuaranteeCheck.watcher(behind, acked: acked, unknown: [], finalRevision: 8, finalState: final).isEmpty)
        var other = good
        other.id = 1
        other.events = [Self.e("b", "2", 5)]
        #expect(GuaranteeCheck.agree(good, other, finalRevision: 8).count == 1)
        #expect(GuaranteeCheck.agree(good, good, finalRevision: 8).isEmpty)
    }

    @Test("durability: a lost or rolled-back acknowledged write fails")
    func durability() {
        let acked = [Self.w("a", "1", rev: 3, 0, 1), Self.w("a", "2", rev: 6, 0, 1)]
        #expect(GuaranteeCheck.durability(acked, finalState: [Array("a".utf8): Self.kv("2", 6)]).isEmpty)
        #expect(GuaranteeCheck.durability(acked, finalState: [Array("a".utf8): Self.kv("1", 3)]).count == 1)
        #expect(GuaranteeCheck.durability(acked, finalState: [:]).count == 2)
    }
}
