import Foundation

extension RobustnessRun {
    /// Runs every checker over the traffic's outcome and fills the report.
    func check(_ t: Traffic, into report: inout RunReport) {
        let ops = t.history
        report.operations = ops.count
        report.unknown = ops.filter { $0.output.isUnknown }.count
        report.succeeded = ops.filter { $0.output.headerRevision != nil }.count
        report.watchEvents = t.watchers.reduce(0) { $0 + $1.events.count }
        for c in t.crashes { report.problems.append("node crashed: \(c) (backtrace in its log)") }

        // Traffic before the fault (no vacuous passes).
        let window = Double(max(t.faultStart - t.trafficStart, 1)) / 1e9
        let before = ops.filter { $0.output.headerRevision != nil && $0.returnTime <= t.faultStart }.count
        report.opsPerSecondBeforeFault = Double(before) / window
        if report.opsPerSecondBeforeFault < options.minOpsPerSecond {
            report.problems.append(
                "too little traffic before the fault: \(Int(report.opsPerSecondBeforeFault)) ops/s < \(Int(options.minOpsPerSecond))")
        }

        // Recovery: the first write acknowledged after the fault healed; longest write gap.
        let writes = ops.filter { RevisionOrderChecker.createsRevision($0) && $0.returnTime != .max }.map(\.returnTime).sorted()
        if options.fault != .none, let first = writes.first(where: { $0 >= t.healed }) {
            report.recovery = .nanoseconds(first - t.healed)
        }
        var gap: Int64 = 0
        for (a, b) in zip(writes, writes.dropFirst()) { gap = max(gap, b - a) }
        report.longestWriteGap = .nanoseconds(gap)

        // The watch saw everything if the watchers' covered windows together span 1...final.
        let complete = Self.watchersCover(t.watchers, through: t.finalRevision)
        let patched = HistoryPatcher.patch(ops, watchers: t.watchers, watchComplete: complete)

        let checkStart = ContinuousClock.now
        let verdict = LinearizabilityChecker(budget: options.checkerBudget, revokePerRange: options.target == "flotilla").check(patched)
        report.checkTime = ContinuousClock.now - checkStart
        switch verdict {
        case .linearizable:
            report.linearizability = "linearizable (\(patched.count) operations, \(LinearizabilityChecker.partitions(patched).count) partitions)"
        case .illegal(let partition, let count, let stuck):
            report.linearizability = "NOT linearizable"
            report.problems.append(
                "not linearizable: partition \(partition), \(count) operations placed; could not place: "
                    + stuck.prefix(6).map(\.description).joined(separator: "; "))
        case .inconclusive(let partition, let steps, let reason):
            report.linearizability = "checker gave up (partition \(partition) after \(steps) steps: \(reason))"
            report.problems.append("checker gave up: \(reason) (partition \(partition), \(steps) steps); history kept for --recheck")
        }
        for v in RevisionOrderChecker.check(ops).prefix(10) { report.problems.append("revision order: \(v)") }
        for v in WatchChecker.check(t.watchers, history: ops).prefix(10) { report.problems.append("watch: \(v)") }
        if !complete {
            report.schedule.append("note: no watcher covered revisions 1...\(t.finalRevision); unknown writes kept as unknown")
        }
        if let finalKVs = t.finalKVs {
            for l in DurabilityChecker.check(history: ops, finalKVs: finalKVs, watchers: t.watchers).prefix(10) {
                report.problems.append("durability: \(l)")
            }
        } else {
            report.problems.append("unavailable: no linearizable read of the keys succeeded on any node within 20 s after traffic stopped")
        }
    }

    /// Writes the history, watch logs and report next to the server logs of a failing run.
    func save(_ t: Traffic, _ report: RunReport) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let h = try? encoder.encode(t.history) {
            try? h.write(to: URL(fileURLWithPath: "\(directory)/history.json"))
        }
        if let w = try? encoder.encode(t.watchers) {
            try? w.write(to: URL(fileURLWithPath: "\(directory)/watches.json"))
        }
        try? (report.summary + "\n").write(toFile: "\(directory)/report.txt", atomically: true, encoding: .utf8)
    }

    /// True when the union of the watchers' covered windows [start, coveredThrough] contains
    /// every revision 1...`revision` (each window is contiguous: the watch checker holds every
    /// watcher to having all events inside it).
    static func watchersCover(_ watchers: [WatcherLog], through revision: Int64) -> Bool {
        let windows = watchers.map { (max($0.startRevision, 1), $0.coveredThrough) }.filter { $0.0 <= $0.1 }.sorted { $0.0 < $1.0 }
        var reached: Int64 = 0  // every revision <= reached is covered
        for (lo, hi) in windows where lo <= reached + 1 { reached = max(reached, hi) }
        return reached >= revision
    }
}
