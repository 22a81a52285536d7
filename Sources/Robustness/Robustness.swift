/// The robustness harness: real clusters driven over the etcd gRPC API, fault injection,
/// and the checkers (linearizability, watch guarantees, durability) that judge a run.
/// See docs/robustness.md.
public enum Robustness {
    /// Version of the history file format written for failing runs.
    public static let historyFormat = 1
}
