/// The set of active alarms and etcd's Alarm request semantics over it (GET filters by kind,
/// NONE meaning every kind; ACTIVATE adds one; DEACTIVATE removes one; each answers the
/// alarms affected). A value type: owners keep it behind their own lock.
public struct AlarmTable: Sendable, Equatable {
    public private(set) var active: Set<AlarmInfo> = []

    public init() {}

    /// Applies an Alarm request for `member` and returns the alarms it answers with.
    public mutating func apply(_ action: AlarmAction, member: UInt64, alarm: AlarmKind) -> [AlarmInfo] {
        switch action {
        case .get:
            return active.filter { alarm == .none || $0.alarm == alarm }
                .sorted { ($0.memberID, $0.alarm.rawValue) < ($1.memberID, $1.alarm.rawValue) }
        case .activate:
            guard alarm != .none else { return [] }
            let a = AlarmInfo(memberID: member, alarm: alarm)
            active.insert(a)
            return [a]
        case .deactivate:
            return active.remove(AlarmInfo(memberID: member, alarm: alarm)).map { [$0] } ?? []
        }
    }

    /// Whether a NOSPACE alarm is active (writes must be refused).
    public var noSpace: Bool { active.contains { $0.alarm == .noSpace } }

    /// etcd's `errors` strings of a Status answer, one per alarm.
    public var statusErrors: [String] {
        active.sorted { ($0.memberID, $0.alarm.rawValue) < ($1.memberID, $1.alarm.rawValue) }.map {
            "memberID:\($0.memberID) alarm:\($0.alarm == .noSpace ? "NOSPACE" : "CORRUPT") "
        }
    }
}
