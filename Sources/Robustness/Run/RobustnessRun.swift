public import Base
import Foundation
import Proto
import Synchronization

/// One robustness run: start a fresh cluster, drive traffic and watchers, inject one fault
/// while traffic flows, let it heal, read the final state, then check the history
/// (linearizability, revision order, watch guarantees, durability). A failing run keeps its
/// directory (server logs, data, history.json, watches.json, report.txt).
public struct RobustnessRun: Sendable {
    public let options: RunOptions

    public init(options: RunOptions) { self.options = options }

    /// The run's fault plan, drawn from the seed (the same draw `traffic` makes).
    public var plan: FaultPlan {
        var rng = SeededGenerator(seed: options.seed)
        return FaultPlan(fault: options.fault, nodes: options.nodes, rng: &rng)
    }

    /// The crash point of a crash-point run: drawn from the seed (same draw as the plan's).
    public var crashPoint: CrashPoint { plan.crashPoint }

    public var directory: String { "\(options.workDirectory)/\(options.target)-\(options.fault.rawValue)-seed\(options.seed)" }

    public func makeCluster() -> any ClusterUnderTest {
        switch options.target {
        case "flotilla":
            FlotillaCluster(
                executable: options.flotillaExecutable, size: options.nodes, ranges: options.flotillaRanges,
                basePort: options.basePort, directory: directory,
                environment: options.fault == .crashPoint ? ["FLOTILLA_CRASHPOINT": crashPoint.rawValue] : [:],
                storage: plan.needsSnapshot ? SnapshotCrashFault.storage : nil)
        default:
            EtcdCluster(executable: options.etcdExecutable, size: options.nodes, basePort: options.basePort, directory: directory)
        }
    }

    public func run(log: @escaping @Sendable (String) -> Void = { _ in }) async -> RunReport {
        var report = RunReport(seed: options.seed, target: options.target, fault: options.fault.rawValue)
        report.directory = directory
        try? FileManager.default.removeItem(atPath: directory)
        let cluster = makeCluster()
        do {
            try await cluster.start()
        } catch {
            report.problems.append("cluster did not start: \(error)")
            await cluster.shutdown()
            return report
        }
        let outcome: Traffic
        do {
            outcome = try await traffic(on: cluster, report: &report, log: log)
        } catch {
            report.problems.append("run aborted: \(error)")
            await cluster.shutdown()
            return report
        }
        await cluster.shutdown()
        // Kept before checking: a checker that dies or is killed still leaves the history.
        save(outcome, report)
        log("checking \(outcome.history.count) operations, \(outcome.watchers.count) watch logs")
        check(outcome, into: &report)
        if report.passed {
            try? FileManager.default.removeItem(atPath: directory)
        } else {
            save(outcome, report)
        }
        return report
    }

    /// What the traffic phase produced.
    struct Traffic {
        var history: [HistoryOperation]
        var watchers: [WatcherLog]
        /// nil: no linearizable read succeeded within 20 s after traffic stopped.
        var finalKVs: [KVRecord]?
        var finalRevision: Int64
        var trafficStart: Int64
        var faultStart: Int64
        var healed: Int64
        /// Nodes that crashed on their own during the run (not the injected fault).
        var crashes: [CrashMonitor.Crash] = []
    }

    func traffic(on cluster: any ClusterUnderTest, report: inout RunReport, log: @escaping @Sendable (String) -> Void) async throws -> Traffic {
        let endpoints = try cluster.clientEndpoints.map { try EtcdEndpoint($0) }
        defer { for e in endpoints { e.close() } }
        let recorder = HistoryRecorder()
        let stopped = Shared(false)
        let latest = Shared<Int64>(1)
        var rng = SeededGenerator(seed: options.seed)
        let plan = FaultPlan(fault: options.fault, nodes: cluster.nodes.count, rng: &rng)
        let workload = options.workload
        let schedule = Shared<[String]>(["plan: \(plan)"])
        let note: @Sendable (String) -> Void = { line in
            let stamped = "t=\(recorder.now() / 1_000_000)ms \(line)"
            schedule.withLock { $0.append(stamped) }
            log(stamped)
        }

        let watchers = (0..<options.watchers).map { i in
            Watcher(id: i, endpoints: endpoints, prefix: workload.keyPrefix, startRevision: 1, requestProgress: options.requestProgress)
        }
        var watcherDelays: [Duration] = []
        var watcherStarts: [Double] = []
        for i in 0..<watchers.count {
            watcherDelays.append(i == 0 ? .zero : .milliseconds(Int.random(in: 0...1500, using: &rng)))
            watcherStarts.append(Double.random(in: 0..<1, using: &rng))
        }

        let trafficStart = recorder.now()
        let monitor = CrashMonitor(nodes: cluster.nodes)
        let monitorTask = Task {
            await monitor.run(now: { recorder.now() / 1_000_000 }) { crash in
                schedule.withLock { $0.append("t=\(crash.atMs)ms \(crash.node) \(crash.what)") }
                log("\(crash)")
            }
        }
        var faultStart: Int64 = 0
        var healed: Int64 = 0
        var finalRevision: Int64 = 0
        var finalKVs: [KVRecord]?
        await withTaskGroup(of: Void.self) { group in
            var clientTasks: [Task<Void, Never>] = []
            for c in 0..<workload.clients {
                let endpoint = endpoints[c % endpoints.count]
                let seed = options.seed
                clientTasks.append(Task {
                    var planner = ClientPlanner(client: c, config: workload, seed: seed)
                    while !stopped.withLock({ $0 }) {
                        var input = planner.next()
                        if case .compact(let target) = input {
                            let floor = watchers.map(\.compactionFloor).min() ?? .max
                            if target > floor { input = floor > 1 ? .compact(revision: floor) : .get(key: workload.key(c)) }
                        }
                        let call = recorder.now()
                        let output = await RequestExecutor.execute(input, on: endpoint, timeout: workload.requestTimeout)
                        recorder.record(client: c, call: call, ret: recorder.now(), input: input, output: output)
                        planner.observe(input, output)
                        if let r = output.headerRevision { latest.withLock { $0 = max($0, r) } }
                        if output.headerRevision == nil { try? await Task.sleep(for: workload.backoffAfterError) }
                    }
                })
            }
            for (i, w) in watchers.enumerated() {
                let delay = watcherDelays[i], fraction = watcherStarts[i]
                group.addTask {
                    if i > 0 {
                        try? await Task.sleep(for: delay)
                        let start = max(1, Int64(Double(latest.withLock { $0 }) * fraction))
                        w.state.withLock { $0.log.startRevision = start }
                    }
                    await w.run(graceAfterStop: .seconds(5))
                }
            }
            try? await Task.sleep(for: options.trafficBeforeFault)
            faultStart = recorder.now()
            do {
                try await FaultInjector.inject(plan, on: cluster, log: note)
            } catch {
                note("fault injection failed: \(error)")
            }
            healed = recorder.now()
            if options.fault != .none { note("fault healed") }
            try? await Task.sleep(for: options.trafficAfterFault)
            stopped.withLock { $0 = true }
            // Every in-flight request finishes (or times out) before the final read.
            for t in clientTasks { await t.value }
            note("traffic stopped")

            // Final state: a linearizable read of every key, retried on every endpoint.
            var final: (Int64, [KVRecord])?
            let deadline = ContinuousClock.now + .seconds(20)
            while final == nil, ContinuousClock.now < deadline {
                for e in endpoints {
                    let call = recorder.now()
                    let out = await RequestExecutor.execute(.list(prefix: workload.keyPrefix), on: e, timeout: .seconds(2))
                    if case .range(let r, let kvs) = out {
                        recorder.record(client: -1, call: call, ret: recorder.now(), input: .list(prefix: workload.keyPrefix), output: out)
                        final = (r, kvs)
                        break
                    }
                }
                if final == nil { try? await Task.sleep(for: .milliseconds(200)) }
            }
            if final == nil {
                monitor.poll(nowMs: recorder.now() / 1_000_000)
                let down = cluster.nodes.filter { $0.pid == nil || $0.isCrashing }.map(\.name)
                note("final read failed for 20 s; nodes down or crashing: \(down.isEmpty ? "none" : down.joined(separator: ", "))")
            }
            finalRevision = final?.0 ?? latest.withLock { $0 }
            finalKVs = final?.1
            for w in watchers { w.stop(after: finalRevision) }
            await group.waitForAll()
        }
        monitor.poll(nowMs: recorder.now() / 1_000_000)
        monitorTask.cancel()
        await monitorTask.value
        report.schedule = schedule.withLock { $0 }
        return Traffic(
            history: recorder.operations, watchers: watchers.map(\.log), finalKVs: finalKVs, finalRevision: finalRevision,
            trafficStart: trafficStart, faultStart: faultStart, healed: healed, crashes: monitor.crashes)
    }

}
