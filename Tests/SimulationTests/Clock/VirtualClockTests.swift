import Base
import Simulation
import Testing

@Suite("Virtual clock and seeded draws")
struct VirtualClockTests {
    @Test func ticksEveryStepsPerTick() {
        var clock = VirtualClock(stepsPerTick: 4)
        var boundaries: [Int] = []
        for _ in 0..<12 {
            if clock.isTickBoundary { boundaries.append(clock.now) }
            clock.advance()
        }
        #expect(boundaries == [0, 4, 8])
        #expect(clock.ticks == 3)
    }

    @Test func chanceHonoursItsExtremesAndRate() {
        var rng = SeededGenerator(seed: 1)
        #expect((0..<1000).allSatisfy { _ in !rng.chance(0) })
        #expect((0..<1000).allSatisfy { _ in rng.chance(1) })
        let hits = (0..<10_000).filter { _ in rng.chance(0.25) }.count
        #expect(hits > 2_200 && hits < 2_800, "hits \(hits) at p=0.25")
    }
}
