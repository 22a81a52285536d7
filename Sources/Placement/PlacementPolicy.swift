/// Which node should lead each user range (docs/architecture.md, "Leader placement").
/// A plain value; owns nothing.
public enum PlacementPolicy: String, Sendable, CaseIterable, Equatable {
    /// Leaders stay wherever elections and operators put them.
    case none
    /// Balance the number of range leaders (the system range's included) across live nodes:
    /// a leader moves only while its node leads at least two more ranges than the target.
    case spread
    /// Every user range is led by the node that leads the system range (where revision
    /// oracle fetches are local and one node's poll rounds carry every range's appends).
    case withSystem = "with-system"

    /// The policy named `text` (`none`, `spread`, `with-system`), or nil.
    public init?(name text: String) { self.init(rawValue: text) }

    /// Every accepted name, for error messages and help texts.
    public static var names: [String] { allCases.map(\.rawValue) }
}

/// The knobs of a `PlacementPlanner` and of the node's driver. Times in milliseconds of a
/// monotonic clock. A plain value; owns nothing.
public struct PlacementSettings: Sendable, Equatable {
    public var policy: PlacementPolicy = .none
    /// How often the node's driver runs one planner step.
    public var intervalMs: Int = 500
    /// After the planner starts, and after a range's leader changed, the range is left alone
    /// this long (elections settle, the new leader's first entry commits).
    public var settleMs: Int = 2_000
    /// After the planner ordered a transfer of a range, it orders none for that range for
    /// this long (a transfer that did not happen is retried after it).
    public var retryMs: Int = 5_000
    /// A leadership move between two live nodes that the policy would not have made (an
    /// operator's `flotctl transfer-leader`, or an election while the old leader lived) pins
    /// the range where it landed for this long: placement never moves it back in a loop.
    public var operatorHoldMs: Int = 300_000
    /// At most this many transfers per planner step (per node).
    public var maxTransfersPerStep: Int = 2

    public init(policy: PlacementPolicy = .none) { self.policy = policy }
}
