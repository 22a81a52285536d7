import Testing

/// Parent of every suite that runs an in-process cluster. `.serialized` applies to all
/// nested suites, so only one cluster (three poll loops, real fsyncs) runs at a time: the
/// clusters' timing would otherwise compete with each other on a small machine.
@Suite(.serialized) struct NodeClusterTests {}
