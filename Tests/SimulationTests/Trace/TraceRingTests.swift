import Simulation
import Testing

@Suite("Trace ring")
struct TraceRingTests {
    @Test func keepsOnlyTheLastEventsInOrder() {
        var ring = TraceRing(capacity: 3)
        for k in 0..<5 { ring.record(.note("e\(k)"), step: k) }
        #expect(ring.events.map(\.step) == [2, 3, 4])
        #expect(ring.totalCount == 5)
        let lines = ring.lines(stepsPerTick: 2)
        #expect(lines.first == "... 2 earlier events omitted")
        #expect(lines.last == "[t2.0] e4")
    }
}
