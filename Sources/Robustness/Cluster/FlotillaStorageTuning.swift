/// `[storage]` settings a harness-started Flotilla node gets instead of the defaults (64 MiB
/// WAL segments collected every second): small segments and frequent GC make Raft logs get
/// compacted within a short run, so snapshots flow. Owns the two values and their TOML.
public struct FlotillaStorageTuning: Sendable, Equatable {
    public var walSegmentBytes: Int
    public var walGCIntervalMs: Int

    public init(walSegmentBytes: Int, walGCIntervalMs: Int) {
        self.walSegmentBytes = walSegmentBytes
        self.walGCIntervalMs = walGCIntervalMs
    }

    /// The `[storage]` table of a node config.
    public var toml: String {
        """
        [storage]
        walSegmentBytes = \(walSegmentBytes)
        walGCIntervalMs = \(walGCIntervalMs)

        """
    }
}
