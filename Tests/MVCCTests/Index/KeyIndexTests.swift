import Base
import Testing

@testable import MVCC

@Suite struct KeyIndexTests {
    func r(_ main: Int64, _ sub: Int64 = 0) -> Revision { Revision(main: main, sub: sub) }

    /// The walk-through of etcd's key_index.go doc comment.
    func docExample() -> KeyIndex {
        var ki = KeyIndex(key: Array("foo".utf8))
        ki.put(r(1), lease: 0)
        ki.put(r(2), lease: 0)
        ki.tombstone(r(3))
        ki.put(r(4), lease: 0)
        ki.tombstone(r(5))
        return ki
    }

    @Test func getAcrossGenerations() {
        let ki = docExample()
        #expect(ki.generations.count == 3)
        #expect(ki.get(atRev: 0) == nil)
        #expect(ki.get(atRev: 1)?.modified == r(1))
        #expect(ki.get(atRev: 1)?.version == 1)
        #expect(ki.get(atRev: 2)?.version == 2)
        #expect(ki.get(atRev: 2)?.created == r(1))
        #expect(ki.get(atRev: 3) == nil)
        #expect(ki.get(atRev: 4)?.created == r(4))
        #expect(ki.get(atRev: 4)?.version == 1)
        #expect(ki.get(atRev: 5) == nil)
        #expect(ki.get(atRev: 100) == nil)
        #expect(!ki.isLive)
    }

    @Test func compactionFollowsEtcd() {
        var ki = docExample()
        var removed: [Revision] = []
        ki.compact(atRev: 2, removed: &removed)
        #expect(removed == [r(1)])
        #expect(ki.generations.map(\.revisions) == [[r(2), r(3)], [r(4), r(5)], []])
        #expect(ki.get(atRev: 2)?.version == 2, "version survives compaction")
        removed = []
        ki.compact(atRev: 4, removed: &removed)
        #expect(removed == [r(2), r(3)])
        #expect(ki.generations.map(\.revisions) == [[r(4), r(5)], []])
        removed = []
        ki.compact(atRev: 5, removed: &removed)
        #expect(removed == [r(4), r(5)])
        #expect(ki.isEmpty)
    }

    @Test func compactionAtTombstoneDropsGeneration() {
        var ki = docExample()
        var removed: [Revision] = []
        ki.compact(atRev: 3, removed: &removed)
        #expect(removed == [r(1), r(2), r(3)])
        #expect(ki.generations.map(\.revisions) == [[r(4), r(5)], []])
    }

    @Test func keptRevisionIsTheVisibleOne() {
        let ki = docExample()
        #expect(ki.kept(atRev: 2) == r(2))
        #expect(ki.kept(atRev: 3) == nil, "a tombstone is not kept")
        #expect(ki.kept(atRev: 4) == r(4))
        var live = KeyIndex(key: [1])
        live.put(r(7), lease: 0)
        live.put(r(9), lease: 0)
        #expect(live.kept(atRev: 8) == r(7))
        #expect(live.kept(atRev: 6) == nil)
    }

    @Test func previousRevisionStaysInGeneration() {
        let ki = docExample()
        #expect(ki.previous(before: r(2)) == r(1))
        #expect(ki.previous(before: r(3)) == r(2))
        #expect(ki.previous(before: r(4)) == nil)
        #expect(ki.previous(before: r(1)) == nil)
    }

    @Test func restoreKeepsRecordedVersion() {
        var ki = KeyIndex(key: [1])
        ki.restore(created: r(3), modified: r(8), version: 4, lease: 7)
        ki.put(r(9), lease: 0)
        #expect(ki.get(atRev: 9)?.version == 5)
        #expect(ki.get(atRev: 8)?.version == 4)
        #expect(ki.get(atRev: 9)?.created == r(3))
    }

    /// The cached live state (`liveCreated` / `liveVersion`, read by `get`'s fast path)
    /// always matches the generations, through random puts, tombstones, compactions and
    /// restores; and `get` at the latest revision answers what the generations say.
    @Test func cachedLiveStateMatchesGenerations() {
        var rng = SeededGenerator(seed: 77)
        for round in 0..<300 {
            var ki = KeyIndex(key: [1])
            var main: Int64 = 1
            if Bool.random(using: &rng) {
                if Bool.random(using: &rng) {
                    ki.restore(created: r(1), modified: r(2), version: 3, lease: 0)
                } else {
                    ki.restoreTombstone(r(2))
                }
                main = 2
            }
            for step in 0..<40 {
                main += 1
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<5: ki.put(r(main), lease: 0)
                case 5..<8: ki.tombstone(r(main))
                default:
                    var removed: [Revision] = []
                    ki.compact(atRev: Int64.random(in: 1...main, using: &rng), removed: &removed)
                }
                let last = ki.generations[ki.generations.count - 1]
                let where_ = "seed 77, round \(round), step \(step)"
                #expect(ki.liveVersion == (ki.isLive ? last.version : 0), Comment(rawValue: where_))
                if ki.isLive {
                    #expect(ki.liveCreated == last.created, Comment(rawValue: where_))
                    let g = ki.get(atRev: main)
                    #expect(g?.modified == last.revisions.last && g?.version == last.version, Comment(rawValue: where_))
                } else {
                    #expect(ki.get(atRev: main) == nil, Comment(rawValue: where_))
                }
            }
        }
    }
}
