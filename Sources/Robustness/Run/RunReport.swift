/// The outcome of one run: what was done, how much traffic, and every checker's findings.
public struct RunReport: Sendable {
    public var seed: UInt64
    public var target: String
    public var fault: String
    public var schedule: [String] = []
    public var opsPerSecondBeforeFault: Double = 0
    public var operations = 0
    public var succeeded = 0
    public var unknown = 0
    public var watchEvents = 0
    /// Time from the fault healing to the first write acknowledged after it (nil: no fault
    /// or no write).
    public var recovery: Duration?
    /// Longest gap between acknowledged writes over the whole run.
    public var longestWriteGap: Duration = .zero
    public var linearizability: String = "not checked"
    /// Wall time of the linearizability check.
    public var checkTime: Duration = .zero
    public var problems: [String] = []
    public var directory: String = ""

    public var passed: Bool { problems.isEmpty }

    public var summary: String {
        var s = "seed=\(seed) target=\(target) fault=\(fault)\n"
        for line in schedule { s += "  schedule: \(line)\n" }
        s += "  ops: \(operations) (\(succeeded) ok, \(unknown) unknown), \(Int(opsPerSecondBeforeFault)) ops/s before the fault, \(watchEvents) watch events\n"
        if let recovery { s += "  recovery: first write \(Self.ms(recovery)) after the fault healed; longest write gap \(Self.ms(longestWriteGap))\n" }
        s += "  linearizability: \(linearizability) in \(Self.ms(checkTime))\n"
        s += "  verdict: \(passed ? "PASS" : "FAIL")"
        for p in problems.prefix(20) { s += "\n    - \(p)" }
        if problems.count > 20 { s += "\n    … \(problems.count - 20) more" }
        return s
    }

    public static func ms(_ d: Duration) -> String {
        let c = d.components
        return "\(c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000) ms"
    }
}
