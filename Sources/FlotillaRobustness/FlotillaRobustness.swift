import ArgumentParser
import Foundation
import Robustness

/// `Tools/robustness`: repeated robustness runs against a real etcd or Flotilla cluster.
@main
struct FlotillaRobustness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "FlotillaRobustness",
        abstract: "Robustness runs: traffic + one fault per run, then linearizability, watch and durability checks.")

    @Option(help: "Number of runs.") var runs: Int = 1
    @Option(help: "Cluster under test: etcd or flotilla.") var target: String = "etcd"
    @Option(help: "Fault class, or 'all' to cycle: \(FaultClass.allCases.map(\.rawValue).joined(separator: ", ")).")
    var fault: String = "all"
    @Option(help: "Seed of the first run (run k uses seed + k).") var seed: UInt64?
    @Option(help: "First port of the cluster's port block.") var basePort: Int = 27790
    @Option(help: "Directory for run data; failing runs stay there.") var workDir: String = RunOptions.defaultWorkDirectory
    @Option(help: "Cluster size (3 or 5).") var nodes: Int = 3
    @Option(help: "Concurrent clients (default: etcd 8, flotilla 32).") var clients: Int?
    @Option(help: "Keys of the workload.") var keys: Int = 10
    @Option(help: "Spread the keys over the flotilla ranges (lists and watches then span every range): auto (on for flotilla), on, off.")
    var keySpread: String = "auto"
    @Option(help: "Watchers.") var watchers: Int = 3
    @Option(help: "Seconds of traffic before the fault.") var before: Double = 2
    @Option(help: "Seconds of traffic after the fault healed.") var after: Double = 2
    @Option(help: "Request timeout in milliseconds.") var timeoutMs: Int = 500
    @Option(help: "Minimum successful ops/s before the fault.") var minOps: Double = 100
    @Flag(help: "Do not send watch progress requests.") var noProgress = false
    @Option(help: "flotilla executable (target flotilla): a release build.") var flotilla: String = ".build/release/flotilla"
    @Option(help: "Ranges of the flotilla cluster.") var ranges: Int = 8
    @Option(help: "etcd executable (target etcd).") var etcd: String = "/usr/bin/etcd"
    @Flag(help: "Instead of runs: send the bad-input catalogue to a fresh single node of the target and print each answer.")
    var badInput = false
    @Option(help: "Instead of runs: re-check the history.json and watches.json a failing run left in this directory.")
    var recheck: String?
    @Option(help: "Step budget of the linearizability search (whole check).") var budget: Int = 20_000_000
    @Option(help: "Seconds the linearizability check may take before it gives up (a failing verdict).")
    var budgetSeconds: Double = 120
    @Option(name: .customLong("budget-mib"), help: "MiB the linearizability check may hold before it gives up (a failing verdict).")
    var budgetMiB: Int = 1024

    var checkBudget: CheckBudget {
        CheckBudget(steps: budget, time: .milliseconds(Int(budgetSeconds * 1000)), memoryBytes: budgetMiB << 20)
    }

    func run() async throws {
        if badInput { return try await runCatalogue() }
        if let recheck { return try recheckDirectory(recheck) }
        let firstSeed = seed ?? UInt64(Date().timeIntervalSince1970)
        let classes: [FaultClass]
        if fault == "all" {
            classes = FaultClass.all(for: target)
        } else if let f = FaultClass(rawValue: fault) {
            classes = [f]
        } else {
            throw ValidationError("unknown fault \(fault)")
        }
        var passed = 0, failed = 0
        var recoveries: [String: [Duration]] = [:]
        var throughput: [Double] = []
        for k in 0..<runs {
            var o = RunOptions()
            o.target = target
            o.fault = classes[k % classes.count]
            o.seed = firstSeed &+ UInt64(k)
            o.basePort = basePort
            o.workDirectory = workDir
            o.nodes = nodes
            o.workload.clients = clients ?? (target == "flotilla" ? 32 : 8)
            o.workload.keys = keys
            if keySpread == "on" || (keySpread == "auto" && target == "flotilla") { o.workload.spread(overRanges: ranges) }
            o.workload.requestTimeout = .milliseconds(timeoutMs)
            o.watchers = watchers
            o.trafficBeforeFault = .milliseconds(Int(before * 1000))
            o.trafficAfterFault = .milliseconds(Int(after * 1000))
            o.minOpsPerSecond = minOps
            o.requestProgress = !noProgress
            o.flotillaExecutable = flotilla
            o.flotillaRanges = ranges
            o.etcdExecutable = etcd
            o.checkerBudget = checkBudget
            print("run \(k + 1)/\(runs): seed=\(o.seed) target=\(target) fault=\(o.fault.rawValue)")
            flushOutput()
            let report = await RobustnessRun(options: o).run { line in
                print("    \(line)")
                flushOutput()
            }
            print(report.summary)
            if report.passed {
                passed += 1
            } else {
                failed += 1
                print("  kept: \(report.directory)")
                print("  re-run: Tools/robustness --runs 1 --target \(target) --fault \(o.fault.rawValue) --seed \(o.seed)")
            }
            if let r = report.recovery { recoveries[o.fault.rawValue, default: []].append(r) }
            throughput.append(report.opsPerSecondBeforeFault)
            flushOutput()
        }
        if !throughput.isEmpty {
            let t = throughput.sorted()
            print("ops/s before the fault: min \(Int(t.first!)), median \(Int(t[t.count / 2])), max \(Int(t.last!))")
        }
        for (f, rs) in recoveries.sorted(by: { $0.key < $1.key }) {
            let s = rs.sorted()
            print(
                "recovery \(f) (\(s.count) runs): min \(RunReport.ms(s.first!)), median \(RunReport.ms(s[s.count / 2])), "
                    + "p90 \(RunReport.ms(s[min(s.count - 1, s.count * 9 / 10)])), max \(RunReport.ms(s.last!))")
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    func recheckDirectory(_ dir: String) throws {
        let decoder = JSONDecoder()
        let history = try decoder.decode([HistoryOperation].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/history.json")))
        let watchers = try decoder.decode([WatcherLog].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/watches.json")))
        for complete in [true, false] {
            let patched = HistoryPatcher.patch(history, watchers: watchers, watchComplete: complete)
            let unknown = patched.filter { $0.output.isUnknown }
            let infinite = patched.filter { $0.returnTime == .max }
            print("watchComplete=\(complete): \(patched.count) operations, \(unknown.count) unknown, \(infinite.count) with no return bound")
            for op in unknown { print("  unknown: \(op)") }
            let start = ContinuousClock.now
            let verdict = LinearizabilityChecker(budget: checkBudget, revokePerRange: target == "flotilla").check(patched)
            print("  verdict: \(verdict) in \(ContinuousClock.now - start)")
            let known = patched.filter { !$0.output.isUnknown }
            print("  without unknown ops: \(LinearizabilityChecker(budget: checkBudget, revokePerRange: target == "flotilla").check(known))")
        }
        print("revision order: \(RevisionOrderChecker.check(history).prefix(5))")
        print("watch: \(WatchChecker.check(watchers, history: history).prefix(5))")
    }

    func runCatalogue() async throws {
        let dir = workDir + "/bad-input-\(target)"
        try? FileManager.default.removeItem(atPath: dir)
        let cluster: any ClusterUnderTest =
            target == "flotilla"
            ? FlotillaCluster(executable: flotilla, size: 1, ranges: ranges, basePort: basePort, directory: dir)
            : EtcdCluster(executable: etcd, size: 1, basePort: basePort, directory: dir)
        try await cluster.start()
        let endpoint = try EtcdEndpoint(cluster.clientEndpoints[0])
        var mismatches = 0
        for c in BadInputCatalogue.cases {
            let answer = await c.send(endpoint)
            let ok = c.expected.matches(answer)
            if !ok { mismatches += 1 }
            print("\(ok ? "ok  " : "DIFF") \(c.name): got \(answer)\(ok ? "" : "; expected \(c.expected)")")
            try? await Task.sleep(for: .milliseconds(100))
            if cluster.nodes[0].pid == nil {
                print("     SERVER DIED after \(c.name) (see \(cluster.nodes[0].logPath)); restarting it")
                try await cluster.restart(node: 0)
                try await cluster.waitWritable(timeout: .seconds(30))
            }
        }
        endpoint.close()
        await cluster.shutdown()
        print("\(BadInputCatalogue.cases.count - mismatches) matched, \(mismatches) differed")
        if mismatches > 0 { throw ExitCode(1) }
    }
}

/// Flushes stdout so progress lines appear while a run is going (output is often piped).
func flushOutput() { fflush(nil) }
