import ArgumentParser
import Glibc
import Simulation

/// `flotilla-bench raft`: committed entries per second of one Raft group of 3 replicas
/// driven single-threaded by the simulator's fault-free plumbing (`ThroughputHarness`):
/// 128-byte entries, proposals batched per poll round as a node's batch system would.
/// An entry counts once it is applied on all replicas.
struct RaftBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft", abstract: "Raft throughput: entries/s applied on all 3 replicas, single-threaded, no faults.")

    @Option(help: "Client entries to commit (after warm-up).")
    var entries: Int = 2_000_000

    @Option(help: "Proposals per poll round.")
    var batch: Int = 256

    @Option(help: "Payload bytes per entry.")
    var payloadBytes: Int = 128

    @Option(help: "Replicas in the group.")
    var replicas: Int = 3

    @Option(help: "Repetitions (the best and the median are reported).")
    var repeats: Int = 3

    @Flag(help: "Give every entry its own payload allocation (as decoded client requests would).")
    var uniquePayloads = false

    func run() throws {
        var rates: [Double] = []
        for rep in 0..<max(1, repeats) {
            var harness = try ThroughputHarness(replicaCount: replicas)
            let template = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0) }
            let shared = Array(repeating: template, count: batch)
            // Warm-up: 5% of the run.
            for _ in 0..<max(1, entries / batch / 20) { try harness.round(payloads: shared) }
            harness.drain()
            let before = harness.counts
            let start = now()
            let cpuStart = now(CLOCK_PROCESS_CPUTIME_ID)
            var proposedRounds = 0
            let roundsWanted = max(1, entries / batch)
            while proposedRounds < roundsWanted {
                if uniquePayloads {
                    var payloads: [[UInt8]] = []
                    payloads.reserveCapacity(batch)
                    for k in 0..<batch {
                        var p = template
                        p[0] = UInt8(truncatingIfNeeded: k)
                        payloads.append(p)
                    }
                    try harness.round(payloads: payloads)
                } else {
                    try harness.round(payloads: shared)
                }
                proposedRounds += 1
            }
            harness.drain()
            let elapsed = now() - start
            let cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpuStart
            let after = harness.counts
            let committed = after.appliedOnAll - before.appliedOnAll
            guard committed == after.proposed - before.proposed else {
                throw ValidationError("only \(committed) of \(after.proposed - before.proposed) entries were applied everywhere")
            }
            let rate = Double(committed) / elapsed
            rates.append(rate)
            print("run \(rep + 1): \(committed) entries in \(rounded(elapsed, 3)) s = \(Int(rate)) entries/s wall, "
                  + "\(Int(Double(committed) / cpu)) entries/s of CPU time (\(rounded(cpu, 3)) s CPU; "
                  + "\(after.rounds - before.rounds) rounds, \(after.messages - before.messages) messages)")
        }
        let sorted = rates.sorted()
        print("raft: best \(Int(sorted.last!)) entries/s, median \(Int(sorted[sorted.count / 2])) entries/s "
              + "(\(replicas) replicas, \(payloadBytes)-byte entries, batch \(batch)\(uniquePayloads ? ", unique payloads" : ""), single thread)")
    }

    func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func rounded(_ x: Double, _ digits: Int) -> Double {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        return (x * p).rounded() / p
    }
}
