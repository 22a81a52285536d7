import Base

/// Everything a replica asks of its caller after some input. The caller's duties, in
/// order (as etcd raft's doc.go describes):
/// 1. persist `hardState` (if set), `entries` and `snapshot` (if set), with a sync when
///    `mustSync` is true;
/// 2. then send `messages` (a follower's acknowledgements must never overtake the data
///    they acknowledge);
/// 3. apply `snapshot` (if set), then `committedEntries` in order (calling
///    `applyConfChange` for `.confChange` entries);
/// 4. call `advance(_:)` with this value.
public struct Ready: Sendable {
    /// Set when leader or role changed since the previous Ready.
    public var softState: SoftState?
    /// Set when term, vote or commit changed since the previous Ready.
    public var hardState: HardState?
    public var readStates: [ReadState]
    /// Entries to append to stable storage (may overwrite a conflicting suffix).
    public var entries: [Entry]
    /// A snapshot to persist and apply (replaces the log up to its index).
    public var snapshot: Snapshot?
    /// Entries known to be committed, to apply in order.
    public var committedEntries: [Entry]
    /// Messages to send, after persisting the above.
    public var messages: [Message]
    /// Whether the persisted state must be synced to disk before sending messages.
    public var mustSync: Bool

    public init(softState: SoftState? = nil, hardState: HardState? = nil, readStates: [ReadState] = [],
                entries: [Entry] = [], snapshot: Snapshot? = nil, committedEntries: [Entry] = [],
                messages: [Message] = [], mustSync: Bool = false) {
        self.softState = softState
        self.hardState = hardState
        self.readStates = readStates
        self.entries = entries
        self.snapshot = snapshot
        self.committedEntries = committedEntries
        self.messages = messages
        self.mustSync = mustSync
    }
}
