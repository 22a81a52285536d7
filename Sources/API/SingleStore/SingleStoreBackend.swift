public import MVCC
import PageStore
import Synchronization
import Base

/// A complete etcd backend over ONE `MVCCStore` (one-node mode and tests): a local revision
/// counter, an in-memory lessor with TTL expiry, alarms, and a watch hub fed by the writes
/// it applies. It owns the store's write path — every write takes the writer lock, gets the
/// next revision, is applied and committed, then published to watchers — so revisions are
/// strictly increasing and a watch never misses a write.
public final class SingleStoreBackend: Sendable {
    /// Identity and tuning of the one-node backend.
    public struct Config: Sendable {
        public var clusterID: UInt64 = 0x1C1B_0000_0000_0001
        public var memberID: UInt64 = 0x0F10_7111_A000_0001
        public var name: String = "flotilla"
        public var clientURLs: [String] = []
        public var peerURLs: [String] = []
        /// etcd: ceil(1.5 × election timeout); 2 s for the default 1 s election timeout.
        public var minLeaseTTL: Int64 = 2
        /// Reported by Maintenance.Status.
        public var version: String = "3.4.23"
        /// Events one watch feed item holds at most (a revision is never split).
        public var watchBatchEvents: Int = 1000
        /// How often `run()` revokes expired leases.
        public var leaseCheckInterval: Duration = .milliseconds(500)

        public init() {}
    }

    struct WriterState {
        var leases: LeaseTable
        var alarms = AlarmTable()
    }

    let store: MVCCStore
    let config: Config
    let clock: any LeaseClock
    let hub: RevisionHub
    let writer: Mutex<WriterState>
    /// The page file when the store lives in one (for Status's db size).
    let pageFile: PageFile?

    /// Wraps `store`, whose revision must not be advanced by anyone else.
    public convenience init(store: MVCCStore, config: Config = Config(), clock: any LeaseClock = SystemLeaseClock()) {
        self.init(store: store, config: config, clock: clock, pageFile: nil)
    }

    init(store: MVCCStore, config: Config, clock: any LeaseClock, pageFile: PageFile?) {
        // etcd starts at revision 1: the first write of a fresh store is revision 2.
        if store.currentRevision < 1 { store.advanceRevision(to: 1) }
        self.store = store
        self.config = config
        self.clock = clock
        self.pageFile = pageFile
        self.hub = RevisionHub(revision: store.currentRevision)
        let firstID = Int64(bitPattern: (config.memberID &* 0x9E37_79B9_7F4A_7C15) >> 16) & 0x0000_7FFF_FFFF_0000
        self.writer = Mutex(WriterState(leases: LeaseTable(minTTL: config.minLeaseTTL, firstID: firstID | 1)))
    }

    /// A backend over a fresh in-memory store (tests, `flotilla dev --memory`).
    public static func inMemory(config: Config = Config(), clock: any LeaseClock = SystemLeaseClock()) throws -> SingleStoreBackend {
        let store = try MVCCStore.create(backend: InMemoryBackend(), rangeID: Self.rangeID, start: [], end: nil)
        return SingleStoreBackend(store: store, config: config, clock: clock)
    }

    /// A backend over the page file at `path`, created if missing, reopened otherwise.
    /// Leases are in memory: after a restart, keys of old leases stay until deleted.
    public static func open(path: String, config: Config = Config(), clock: any LeaseClock = SystemLeaseClock()) throws -> SingleStoreBackend {
        let backend = try PageStoreBackend.open(path: path)
        let store: MVCCStore
        if try MVCCStore.rangeIDs(backend: backend).contains(Self.rangeID) {
            store = try MVCCStore.open(backend: backend, rangeID: Self.rangeID)
        } else {
            store = try MVCCStore.create(backend: backend, rangeID: Self.rangeID, start: [], end: nil)
        }
        return SingleStoreBackend(store: store, config: config, clock: clock, pageFile: backend.file)
    }

    /// Closes the page file (if any); the backend must not be used afterwards.
    public func close() {
        pageFile?.close()
    }

    /// The one range this backend serves.
    static let rangeID = RangeID(1)

    /// Runs the lease expiry loop until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: config.leaseCheckInterval) } catch { return }
            _ = try? revokeExpiredLeases()
        }
    }

    /// The current revision of the store.
    public var revision: Int64 { store.currentRevision }

    // MARK: write path

    /// Applies one write at the next revision under the writer lock, commits it and wakes
    /// watchers. `body` gets the revision to use; a write that fails changes nothing.
    func write<R: Sendable>(_ body: (inout WriterState, Int64) throws -> R) throws -> R {
        let (result, revision): (R, Int64) = try writer.withLock { w in
            let revision = store.currentRevision + 1
            let result = try body(&w, revision)
            let applied = store.currentRevision
            if applied >= revision { try store.commit(appliedIndex: UInt64(applied)) }
            return (result, applied)
        }
        hub.publish(revision)
        return result
    }

    func checkNoSpace(_ w: WriterState) throws {
        if w.alarms.noSpace { throw EtcdError.noSpace }
    }
}
