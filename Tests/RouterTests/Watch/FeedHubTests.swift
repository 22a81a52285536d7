import Base
import MVCC
import Node
@testable import Router
import Synchronization
import Testing

/// `FeedHub`'s wake pass on a feed the test drives item by item: single-key subscribers are
/// woken through the key index only by their own key's events (from their start
/// revision), span subscribers by any event in their span, eager ones by every item, and
/// the progress pass wakes only subscribers parked for at least `progressEvery`.
@Suite struct FeedHubTests {
    static func put(_ key: String, _ revision: Int64) -> WatchEvent {
        WatchEvent(kind: .put, kv: KeyValue(key: Array(key.utf8), modRevision: revision, value: [1]), prevKV: nil, sub: 0)
    }

    static func span(_ key: String, _ end: String? = nil) -> KeySpan {
        KeySpan(key: Array(key.utf8), rangeEnd: end.map { Array($0.utf8) } ?? [])
    }

    /// A hub without retention (the test starts it on a stream it yields into).
    static func makeHub(progressEvery: Duration) -> FeedHub {
        FeedHub(maxBacklog: 1_000, retain: .zero, progressEvery: progressEvery, from: 1) { _ in }
    }

    /// The items a subscriber took.
    final class Taken: Sendable {
        let items = Mutex<[RangeFeedItem]>([])
        var count: Int { items.withLock { $0.count } }
        var all: [RangeFeedItem] { items.withLock { $0 } }
    }

    /// Pulls `sub` in a task and waits (hang bound) until it is parked in the hub.
    static func parked(_ hub: FeedHub, _ sub: FeedHub.Subscription, into got: Taken) async -> Task<Void, Never> {
        let task = Task {
            while let item = try? await sub.next() { got.items.withLock { $0.append(item) } }
        }
        await until("subscriber \(sub.id) parks") { isParked(hub, sub.id) }
        return task
    }

    static func isParked(_ hub: FeedHub, _ id: UInt64) -> Bool {
        hub.state.withLock { $0.subscribers[id]?.parked != nil }
    }

    static func until(_ what: String, _ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(300)  // hang bound: a starved suite can hold the pool for a minute
        while !condition() {
            if ContinuousClock.now > deadline {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    @Test func anItemWakesOnlyTheSubscribersItConcerns() async throws {
        let hub = Self.makeHub(progressEvery: .seconds(3600))
        let a = try #require(hub.join(from: 1, span: Self.span("a"), eager: false))
        let b = try #require(hub.join(from: 1, span: Self.span("b"), eager: false))
        let late = try #require(hub.join(from: 5, span: Self.span("b"), eager: false))  // starts at revision 5
        let ac = try #require(hub.join(from: 1, span: Self.span("a", "c"), eager: false))
        let eager = try #require(hub.join(from: 1, span: Self.span("x"), eager: true))
        #expect(hub.state.withLock { $0.byKey.count == 2 && $0.scanned.count == 2 }, "a, b indexed; [a, c) and eager scanned")
        // The first item is also the first progress pass: every subscriber takes it.
        let (stream, cont) = AsyncThrowingStream<RangeFeedItem, any Error>.makeStream()
        hub.start(stream)
        cont.yield(.events([], resolved: 1))
        var got: [UInt64: Taken] = [:]
        var tasks: [Task<Void, Never>] = []
        for s in [a, b, late, ac, eager] {
            let t = Taken()
            got[s.id] = t
            tasks.append(await Self.parked(hub, s, into: t))
        }
        let taken = got
        func count(_ s: FeedHub.Subscription) -> Int { taken[s.id]!.count }
        let before = [a, b, late, ac, eager].map(count)

        cont.yield(.events([Self.put("b", 2)], resolved: 2))
        await Self.until("b and the span and eager subscribers took revision 2") {
            count(b) > before[1] && count(ac) > before[3] && count(eager) > before[4]
        }
        #expect(Self.isParked(hub, a.id) && count(a) == before[0], "a was woken by b's event")
        #expect(Self.isParked(hub, late.id) && count(late) == before[2], "the watcher from 5 was woken by revision 2")

        cont.yield(.events([Self.put("a", 3), Self.put("b", 6)], resolved: 6))
        await Self.until("a and the late b watcher took their events") {
            count(a) > before[0] && count(late) > before[2]
        }
        let lateItems = got[late.id]!.all
        #expect(lateItems.last == .events([Self.put("b", 6)], resolved: 6))
        let aItems = got[a.id]!.all
        #expect(aItems.last == .events([Self.put("a", 3)], resolved: 6))

        // Leaving removes a subscriber from the index.
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        let ids = [a, b, late, ac, eager].map(\.id)
        for id in ids { hub.leave(id) }
        #expect(hub.state.withLock { $0.byKey.isEmpty && $0.scanned.isEmpty && $0.subscribers.isEmpty })
        cont.finish()
    }

    @Test func progressWakesOnlySubscribersParkedForTheInterval() async throws {
        let hub = Self.makeHub(progressEvery: .milliseconds(200))
        let a = try #require(hub.join(from: 1, span: Self.span("a"), eager: false))
        let (stream, cont) = AsyncThrowingStream<RangeFeedItem, any Error>.makeStream()
        hub.start(stream)
        let got = Taken()
        let clock = ContinuousClock()
        let task = await Self.parked(hub, a, into: got)
        let parkedAt = clock.now
        // Parked just now: an item without its events does not wake it, even on a progress pass.
        cont.yield(.events([Self.put("b", 2)], resolved: 2))
        try await Task.sleep(for: .milliseconds(50))
        let early = got.count
        // Only meaningful when this test was not starved past the interval (a loaded suite
        // can hold the pool for seconds; then the wake-up is legitimately due).
        if clock.now - parkedAt < .milliseconds(200) {
            #expect(early == 0, "woken before it was parked for progressEvery: \(got.all)")
        }
        // Parked for longer than the interval: the next progress pass wakes it with the
        // latest resolved revision and no events (b's events are outside its span).
        try await Task.sleep(for: .milliseconds(300))
        cont.yield(.events([Self.put("b", 3)], resolved: 3))
        await Self.until("a progress step reaches a at 3") { got.all.contains(.events([], resolved: 3)) }
        #expect(got.all.allSatisfy { if case .events(let e, _) = $0 { return e.isEmpty } else { return false } }, "\(got.all)")
        #expect(got.all.last == .events([], resolved: 3))
        task.cancel()
        await task.value
        cont.finish()
    }
}
