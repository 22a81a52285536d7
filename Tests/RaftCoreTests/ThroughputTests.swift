import Base
import Foundation
import RaftCore
import Testing

/// A throughput probe for the hot path (propose → append → appendResponse → commit →
/// committedEntries) with three replicas in one thread, through the public API only.
/// Disabled unless `RAFT_BENCH=1`; meaningful only in a release build:
/// `RAFT_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter ThroughputTests`.
@Suite struct ThroughputTests {
    /// CPU time of the calling thread: the machine is shared, so wall time overstates cost.
    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["RAFT_BENCH"] == "1"),
          arguments: [1, 64])
    func threeReplicas128ByteEntries(proposalsPerRound: Int) throws {
        let total = Int(ProcessInfo.processInfo.environment["RAFT_BENCH_TOTAL"] ?? "") ?? 1_000_000
        let payload = [UInt8](repeating: 0xAB, count: 128)
        let storages = (1...3).map { _ in MemoryStorage(voters: [1, 2, 3]) }
        /// Holds a node so that calls on it do not copy it out of an array.
        final class Box {
            var node: RawNode<MemoryStorage>
            init(_ node: RawNode<MemoryStorage>) { self.node = node }
        }
        let nodes = try (0..<3).map { i in
            Box(try RawNode(config: RaftConfig(id: UInt64(i + 1), checkQuorum: false, preVote: false,
                                               randomSeed: UInt64(i)), storage: storages[i]))
        }
        var inbox: [[Message]] = [[], [], []]
        var applied = [0, 0, 0]

        func handleReady(_ i: Int) {
            guard nodes[i].node.hasReady() else { return }
            let rd = nodes[i].node.ready()
            if let hs = rd.hardState { storages[i].setHardState(hs) }
            storages[i].append(rd.entries)
            for m in rd.messages { inbox[Int(m.to) - 1].append(m) }
            applied[i] += rd.committedEntries.count
            nodes[i].node.advance(rd)
        }
        func deliver() {
            for i in 0..<3 {
                let batch = inbox[i]
                inbox[i].removeAll(keepingCapacity: true)
                for m in batch { try? nodes[i].node.step(m) }
            }
        }

        try nodes[0].node.campaign()
        for _ in 0..<10 {
            for i in 0..<3 { handleReady(i) }
            deliver()
        }
        let start = ContinuousClock.now
        let cpuStart = Self.threadCPUSeconds()
        let base = applied
        var proposed = 0
        while applied[2] - base[2] < total {
            var batch = 0
            while batch < proposalsPerRound && proposed < total {
                try nodes[0].node.propose(payload)
                proposed += 1
                batch += 1
            }
            for i in 0..<3 { handleReady(i) }
            deliver()
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpu = Self.threadCPUSeconds() - cpuStart
        print("THROUGHPUT proposalsPerRound=\(proposalsPerRound): \(Int(Double(total) / cpu)) committed 128-byte entries"
              + "/s of thread CPU time, \(Int(Double(total) / seconds))/s wall (\(total) entries, 3 replicas)")
        #expect(applied[2] - base[2] >= total)
    }
}
