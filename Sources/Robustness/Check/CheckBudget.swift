import Foundation

/// What one linearizability check may spend before it gives up: search steps (model
/// evaluations), wall-clock time and memory (an estimate of what the memo table and the
/// search stack hold, plus the process's resident set growth as a backstop). Giving up is a
/// verdict of its own (`inconclusive`), which a run reports as a failure — never a pass and
/// never a hang. The limits are for the whole check (all partitions together).
public struct CheckBudget: Sendable, Equatable {
    public var steps: Int
    public var time: Duration
    public var memoryBytes: Int

    public init(steps: Int = 20_000_000, time: Duration = .seconds(120), memoryBytes: Int = 1 << 30) {
        self.steps = steps
        self.time = time
        self.memoryBytes = memoryBytes
    }
}

/// The running account of a check against its `CheckBudget`. A plain value owned by the
/// check's (single-threaded) search loop.
struct BudgetMeter {
    let budget: CheckBudget
    let deadline: ContinuousClock.Instant
    let baselineRSS: Int
    var steps = 0
    var memoBytes = 0
    var sinceSample = 0

    init(_ budget: CheckBudget) {
        self.budget = budget
        deadline = ContinuousClock.now + budget.time
        baselineRSS = Self.residentBytes()
    }

    /// Counts one step that evaluated the model on `work` states; returns why the check must
    /// stop, or nil. Time and RSS are sampled every ~2,048 model evaluations (a clock read per
    /// step would cost more than a cheap step; a step over thousands of states is not cheap).
    mutating func step(work: Int) -> String? {
        steps += 1
        sinceSample += max(work, 1)
        if steps > budget.steps { return "step budget of \(budget.steps) exhausted" }
        if memoBytes > budget.memoryBytes { return "memory budget of \(budget.memoryBytes >> 20) MiB exhausted (memo estimate)" }
        if sinceSample >= 2048 {
            sinceSample = 0
            if ContinuousClock.now > deadline { return "time budget of \(budget.time) exhausted after \(steps) steps" }
            let grown = Self.residentBytes() - baselineRSS
            if grown > budget.memoryBytes { return "memory budget of \(budget.memoryBytes >> 20) MiB exhausted (resident set grew \(grown >> 20) MiB)" }
        }
        return nil
    }

    /// The estimated bytes one memo entry holds.
    static func cost(bits: Int, states: Set<ModelState>) -> Int {
        var bytes = 64 + bits * 8
        for s in states { bytes += 96 + s.keys.count * 112 + s.leases.count * 16 }
        return bytes
    }

    /// The process's resident set in bytes (Linux /proc/self/statm), 0 where unknown.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
