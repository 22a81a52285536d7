import ArgumentParser
import Glibc
import Simulation

/// `flotilla-sim`: runs seeded simulations of a Raft group (see `Simulator`) and ends
/// with the line `N passed, M failed`. Every failure prints `reproduce with --seed=S`
/// and the failing run's trace. Run it through `Tools/simulate` (release build).
struct FlotillaSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla-sim",
        abstract: "Deterministic Raft simulation: seeded faults, safety checkers after every step, liveness after healing.")

    @Option(help: "Number of seeds to run (seeds first-seed ..< first-seed + N).")
    var seeds: Int = 100

    @Option(help: "Run only this seed (to reproduce a failure).")
    var seed: UInt64?

    @Option(help: "First seed of a --seeds run.")
    var firstSeed: UInt64 = 1

    @Option(help: "Steps of the fault phase of each run (liveness is checked after).")
    var steps: Int = 1500

    @Option(help: "Trace events kept and printed on failure.")
    var trace: Int = 400

    @Flag(help: "Print one line per seed (and the trace of a single --seed run).")
    var verbose = false

    @Flag(help: "Self-test: a disk that forgets its vote on crash (runs are expected to fail).")
    var lyingDisk = false

    func run() throws {
        let list: [UInt64] = seed.map { [$0] } ?? Array(firstSeed..<(firstSeed + UInt64(max(0, seeds))))
        let started = monotonicSeconds()
        var passed = 0, failed = 0
        var totals = SimulationStats()
        for s in list {
            CrashReporter.arm(seed: s)
            var options = SimulationOptions.random(seed: s, faultSteps: steps)
            options.traceCapacity = trace
            if lyingDisk {
                options.lyingDisk = true
                options.crashRate = max(options.crashRate, 0.02)
                options.restartRate = max(options.restartRate, 0.2)
            }
            var simulator = Simulator(options: options)
            let result = simulator.run()
            accumulate(&totals, result.stats)
            if result.passed {
                passed += 1
                if verbose {
                    print("seed \(s) ok: \(describe(result.stats)) [\(options.summary)]")
                    if seed != nil { result.trace.forEach { print("  \($0)") } }
                }
            } else {
                failed += 1
                print("FAILED seed \(s): \(result.violation!)")
                print("options: \(options.summary)")
                print("reproduce with --seed=\(s)" + (steps == 1500 ? "" : " --steps \(steps)"))
                print("trace (last \(result.trace.count) events):")
                result.trace.forEach { print("  \($0)") }
            }
        }
        CrashReporter.disarm()
        let elapsed = monotonicSeconds() - started
        if verbose || list.count > 1 {
            print("totals: \(describe(totals))")
            print("wall time: \(Double(Int(elapsed * 10)) / 10) s for \(list.count) runs of \(steps) fault steps")
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    func describe(_ s: SimulationStats) -> String {
        "ticks=\(s.ticks) leaders=\(s.leadersElected) committed=\(s.maxCommitted) proposals=\(s.proposals) "
            + "crashes=\(s.crashes) torn=\(s.tornWrites) restarts=\(s.restarts) partitions=\(s.partitions) "
            + "confChanges=\(s.confChangesApplied) transfers=\(s.transfers) snapshots=\(s.snapshotsCreated)/\(s.snapshotsInstalled) "
            + "retired=\(s.retired) reads=\(s.readsServed)/\(s.readsIssued) delivered=\(s.messagesDelivered) dropped=\(s.messagesDropped) livenessTicks=\(s.livenessTicks)"
    }

    func accumulate(_ t: inout SimulationStats, _ s: SimulationStats) {
        t.steps += s.steps; t.ticks += s.ticks; t.leadersElected += s.leadersElected
        t.maxCommitted += s.maxCommitted; t.proposals += s.proposals; t.crashes += s.crashes
        t.tornWrites += s.tornWrites; t.restarts += s.restarts; t.partitions += s.partitions
        t.confChangesApplied += s.confChangesApplied; t.transfers += s.transfers
        t.snapshotsCreated += s.snapshotsCreated; t.snapshotsInstalled += s.snapshotsInstalled
        t.retired += s.retired; t.readsIssued += s.readsIssued; t.readsServed += s.readsServed; t.messagesDelivered += s.messagesDelivered; t.messagesDropped += s.messagesDropped
        t.livenessTicks = max(t.livenessTicks, s.livenessTicks)
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Prints the seed being run if the process dies on a trap inside the core (a
/// `precondition` or `fatalError` in RaftCore would otherwise lose which seed failed).
enum CrashReporter {
    // Written only by the single runner thread before each run; read by the signal handler.
    nonisolated(unsafe) static var message: [CChar] = []

    static func arm(seed: UInt64) {
        message = Array("\nCRASHED while running seed \(seed)\nreproduce with --seed=\(seed)\n".utf8CString)
        for sig in [SIGTRAP, SIGILL, SIGSEGV, SIGABRT, SIGBUS, SIGFPE] {
            signal(sig) { sig in
                CrashReporter.message.withUnsafeBufferPointer { buf in
                    _ = write(2, buf.baseAddress, buf.count - 1)
                }
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    static func disarm() {
        for sig in [SIGTRAP, SIGILL, SIGSEGV, SIGABRT, SIGBUS, SIGFPE] { signal(sig, SIG_DFL) }
    }
}

FlotillaSimCommand.main()
