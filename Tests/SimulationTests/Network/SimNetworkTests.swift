import Base
import RaftCore
import Simulation
import Testing

@Suite("SimNetwork fault model")
struct SimNetworkTests {
    func msg(_ from: ReplicaID, _ to: ReplicaID, _ index: UInt64 = 0) -> Message {
        Message(type: .append, to: to, from: from, term: 1, index: index)
    }

    /// Drains everything due by `until`, stepping time forward.
    func drain(_ net: inout SimNetwork, until: Int) -> [(step: Int, delivery: Delivery)] {
        var out: [(Int, Delivery)] = []
        for now in 0...until {
            while let d = net.nextDelivery(now: now) { out.append((now, d)) }
        }
        return out
    }

    @Test func reliableNetworkDeliversEverythingOnceWithinDelayBounds() {
        var rng = SeededGenerator(seed: 7)
        var net = SimNetwork(faults: .reliable(minDelaySteps: 2, maxDelaySteps: 5))
        for k in 0..<100 { net.send(msg(1, 2, UInt64(k)), now: 0, rng: &rng) }
        let out = drain(&net, until: 10)
        #expect(out.count == 100)
        #expect(out.allSatisfy { $0.step >= 2 && $0.step <= 5 && !$0.delivery.blocked })
        #expect(Set(out.map { $0.delivery.message.index }).count == 100)
        #expect(net.inFlightCount == 0)
    }

    @Test func totalLossDropsEverything() {
        var rng = SeededGenerator(seed: 1)
        var net = SimNetwork(faults: NetworkFaults(lossRate: 1))
        for _ in 0..<50 { #expect(net.send(msg(1, 2), now: 0, rng: &rng) == .lost) }
        #expect(drain(&net, until: 10).isEmpty)
        #expect(net.lostCount == 50)
    }

    @Test func partialLossDropsRoughlyTheRate() {
        var rng = SeededGenerator(seed: 3)
        var net = SimNetwork(faults: NetworkFaults(lossRate: 0.3))
        for _ in 0..<10_000 { net.send(msg(1, 2), now: 0, rng: &rng) }
        #expect(net.lostCount > 2_700 && net.lostCount < 3_300, "lost \(net.lostCount) of 10000 at rate 0.3")
    }

    @Test func duplicationDeliversTwice() {
        var rng = SeededGenerator(seed: 5)
        var net = SimNetwork(faults: NetworkFaults(duplicateRate: 1))
        #expect(net.send(msg(1, 2, 42), now: 0, rng: &rng) == .queued(copies: 2))
        let out = drain(&net, until: 3)
        #expect(out.map { $0.delivery.message.index } == [42, 42])
    }

    @Test func randomDelaysReorderButFifoLinksDoNot() {
        func order(fifo: Bool) -> [UInt64] {
            var rng = SeededGenerator(seed: 11)
            var net = SimNetwork(faults: NetworkFaults(minDelaySteps: 1, maxDelaySteps: 20, fifo: fifo))
            for k in 0..<200 { net.send(msg(1, 2, UInt64(k)), now: k / 10, rng: &rng) }
            return drain(&net, until: 100).map { $0.delivery.message.index }
        }
        let reordered = order(fifo: false)
        #expect(reordered.count == 200)
        #expect(reordered != reordered.sorted(), "independent delays should reorder some messages")
        let fifo = order(fifo: true)
        #expect(fifo == Array(0..<200))
    }

    @Test func symmetricPartitionBlocksBothDirectionsUntilHealed() {
        var rng = SeededGenerator(seed: 2)
        var net = SimNetwork()
        net.partition.split([1], [2, 3])
        net.send(msg(1, 2), now: 0, rng: &rng)
        net.send(msg(3, 1), now: 0, rng: &rng)
        net.send(msg(2, 3), now: 0, rng: &rng)
        let out = drain(&net, until: 2)
        #expect(out.filter { $0.delivery.blocked }.map { $0.delivery.message.from } .sorted() == [1, 3])
        #expect(out.filter { !$0.delivery.blocked }.map { $0.delivery.message.from } == [2])
        net.partition.heal()
        net.send(msg(1, 2), now: 3, rng: &rng)
        #expect(drain(&net, until: 5).allSatisfy { !$0.delivery.blocked })
    }

    @Test func oneWayPartitionBlocksOneDirectionOnly() {
        var rng = SeededGenerator(seed: 2)
        var net = SimNetwork()
        net.partition.blockOneWay(from: 1, to: 2)
        net.send(msg(1, 2), now: 0, rng: &rng)
        net.send(msg(2, 1), now: 0, rng: &rng)
        let out = drain(&net, until: 2)
        #expect(out.first { $0.delivery.message.from == 1 }?.delivery.blocked == true)
        #expect(out.first { $0.delivery.message.from == 2 }?.delivery.blocked == false)
    }

    @Test func partitionAlsoCutsMessagesAlreadyInFlight() {
        var rng = SeededGenerator(seed: 9)
        var net = SimNetwork(faults: .reliable(minDelaySteps: 5, maxDelaySteps: 5))
        net.send(msg(1, 2), now: 0, rng: &rng)
        net.partition.isolate(2, from: [1, 3])
        #expect(drain(&net, until: 6).map { $0.delivery.blocked } == [true])
    }

    @Test func sameSeedSameSchedule() {
        func schedule(_ seed: UInt64) -> [Int] {
            var rng = SeededGenerator(seed: seed)
            var net = SimNetwork(faults: NetworkFaults(lossRate: 0.2, duplicateRate: 0.2, minDelaySteps: 1, maxDelaySteps: 9))
            for k in 0..<100 { net.send(msg(1, 2, UInt64(k)), now: 0, rng: &rng) }
            return drain(&net, until: 20).map { $0.step * 1000 + Int($0.delivery.message.index) }
        }
        #expect(schedule(4) == schedule(4))
        #expect(schedule(4) != schedule(5))
    }
}
