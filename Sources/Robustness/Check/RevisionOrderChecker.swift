/// Whole-history revision checks that need no search: in real-time order (a returned before
/// b was called), b's header revision is at least a's, strictly greater when b is a write that
/// created a revision; and no two acknowledged revision-creating writes share a revision.
public enum RevisionOrderChecker {
    /// A violation, with the two operations involved.
    public struct Violation: Sendable, CustomStringConvertible {
        public var rule: String
        public var earlier: HistoryOperation
        public var later: HistoryOperation
        public var description: String { "\(rule): \(earlier) then \(later)" }
    }

    /// True when the acknowledged operation certainly created a new revision.
    public static func createsRevision(_ op: HistoryOperation) -> Bool {
        switch (op.input, op.output) {
        case (.put, .put): true
        case (.compareAndSet, .compareAndSet(_, let ok, _)): ok
        case (.delete, .delete(_, let n)): n > 0
        default: false
        }
    }

    public static func check(_ operations: [HistoryOperation]) -> [Violation] {
        let acked = operations.filter { $0.output.headerRevision != nil && $0.returnTime != .max }
        var violations: [Violation] = []
        // Revision-creating writes never share a revision.
        var byRevision: [Int64: HistoryOperation] = [:]
        for op in acked where createsRevision(op) {
            let r = op.output.headerRevision!
            if let other = byRevision[r] {
                violations.append(Violation(rule: "two writes acknowledged the same revision \(r)", earlier: other, later: op))
            } else {
                byRevision[r] = op
            }
        }
        // Sweep: operations by call time; completed operations by return time.
        let byCall = acked.sorted { $0.callTime < $1.callTime }
        let byReturn = acked.sorted { $0.returnTime < $1.returnTime }
        var j = 0
        var maxRevision: Int64 = 0
        var maxOp: HistoryOperation?
        for op in byCall {
            while j < byReturn.count, byReturn[j].returnTime < op.callTime {
                let r = byReturn[j].output.headerRevision!
                if r > maxRevision {
                    maxRevision = r
                    maxOp = byReturn[j]
                }
                j += 1
            }
            guard let earlier = maxOp else { continue }
            let r = op.output.headerRevision!
            if createsRevision(op) {
                if r <= maxRevision {
                    violations.append(Violation(rule: "write revision \(r) not above earlier revision \(maxRevision)", earlier: earlier, later: op))
                }
            } else if r < maxRevision {
                violations.append(Violation(rule: "header revision \(r) below earlier revision \(maxRevision)", earlier: earlier, later: op))
            }
        }
        return violations
    }
}
