public import API
public import Base
import MVCC
public import Node
import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// etcd's KV, Watch, Lease and Cluster API over every user range of the cluster at one
/// global revision (DESIGN.md §3, §6). Runs on every node; reaches the cluster only through
/// `ClusterAccess`. Owns the range cache (descriptors + leader hints, behind one `Mutex`),
/// the request-ID counter and the highest revision it has seen. Alarms and the NOSPACE
/// quota are not its business: the server puts `QuotaKVBackend` in front of it.
/// It holds no per-range tasks or actors: each request plans its ranges from the cache,
/// fans out, retries (`Router+Dispatch.swift`) and merges.
public final class Router: Sendable {
    /// Identity and retry tuning.
    public struct Config: Sendable {
        public var clusterID: UInt64 = 0x1C1B_0000_0000_0001
        /// This member's ID in response headers (default: the node ID).
        public var memberID: UInt64? = nil
        /// Attempts per range operation (leader changes, epoch changes, timeouts) before
        /// answering "etcdserver: request timed out".
        public var maxAttempts = 8
        /// Attempts go on past `maxAttempts` until the operation has been retrying this
        /// long: an election under load (no leader for a second or two) is waited out, as
        /// etcd's server waits up to its request timeout for a leader, instead of failing
        /// after the ~0.5 s that eight backed-off attempts take. `.zero`: attempts only.
        public var retryWindow: Duration = .seconds(5)
        /// First retry backoff; doubles up to `maxBackoff`.
        public var initialBackoff: Duration = .milliseconds(5)
        public var maxBackoff: Duration = .milliseconds(200)
        /// One attempt of a range operation that gets no answer within this long is
        /// abandoned and retried (same request ID) on the leader re-resolved from the
        /// routing table (a paused leader is replaced after about one election timeout,
        /// while the call timeout is 10 s). A few election timeouts; nil: no bound. (The
        /// session-5 test stall blamed on it was a watch test waiting for an event before
        /// its watch's start: issue #6, RouterWatchTests.)
        public var attemptTimeout: Duration? = .seconds(3)
        /// How often the lease expiry loop asks for expired leases.
        public var leaseExpiryInterval: Duration = .milliseconds(500)
        /// Low bits of the first request ID (default: wall-clock microseconds, so a restarted
        /// router does not reuse the IDs ranges remember).
        public var requestIDSeed: UInt64? = nil
        /// Where the router says why it gave up on a request (the server's logger, as a
        /// warning); rate-limited to one line per range per `stallLogInterval`. nil: silent.
        public var warn: (@Sendable (String) -> Void)? = nil
        public var stallLogInterval: Duration = .seconds(5)
        /// A put or txn attaching a lease that ended in "request timed out" (it may still
        /// apply) re-checks its leases again after this long (`recheckLeasesLater`).
        public var lateLeaseRecheckDelay: Duration = .seconds(10)
        /// At most this many leases wait for a late re-check; more are dropped (and counted).
        public var lateLeaseRecheckCapacity = 4_096
        /// Spans remembered per queued lease; more collapse into the whole keyspace.
        public var lateLeaseRecheckMaxSpans = 32
        /// Whether a linearizable read within one range lets the range's leader take the
        /// read point (`ClusterAccess.readFresh`: one call to the leader instead of an oracle
        /// call and then the read). false: the router takes it (as before session 9). A
        /// measurement switch; true unless the environment sets FLOTILLA_READ_POINT_HERE=1.
        public var readPointOnLeader = getenv("FLOTILLA_READ_POINT_HERE").map { String(cString: $0) != "1" } ?? true

        public init() {}
    }

    struct State {
        var cache = RouteCache()
        var nextRequest: UInt64
        /// Every revision seen so far (handed out by the oracle or applied) is <= this.
        var highWater: Int64 = 0
        /// What `currentRevision()` answered in the last second (start of a watch from 0).
        var recentCurrents: [(revision: Int64, at: ContinuousClock.Instant)] = []
    }

    let access: any ClusterAccess
    let config: Config
    let state: Mutex<State>
    let stallLog: StallLog
    /// The watchers' range feeds, one per (range, epoch, node) shared by all watchers.
    let feeds: SharedRangeFeeds
    /// Late lease re-checks of puts with an unknown outcome (one worker per router).
    let lateRechecks: LateLeaseRechecks

    /// Request IDs: the node ID in the high 20 bits, a counter in the low 44.
    static let counterBits: UInt64 = 44

    public init(access: any ClusterAccess, config: Config = Config()) {
        self.access = access
        self.config = config
        self.feeds = SharedRangeFeeds(access: access)
        let seed = config.requestIDSeed ?? wallClockMicroseconds()
        self.state = Mutex(State(nextRequest: seed & ((1 << Self.counterBits) - 1)))
        self.stallLog = StallLog(interval: config.stallLogInterval, sink: config.warn)
        self.lateRechecks = LateLeaseRechecks(delay: config.lateLeaseRecheckDelay, capacity: config.lateLeaseRecheckCapacity,
                                              maxSpans: config.lateLeaseRecheckMaxSpans, warn: config.warn)
    }

    var memberID: UInt64 { config.memberID ?? access.localNode.rawValue }

    /// A request ID unique to this router: node ID in the high bits, a counter below.
    func newRequestID() -> UInt64 {
        let n = state.withLock { s in
            let n = s.nextRequest
            s.nextRequest = (s.nextRequest &+ 1) & ((1 << Self.counterBits) - 1)
            return n
        }
        return (access.localNode.rawValue << Self.counterBits) | n
    }

    // MARK: revisions

    /// Records that `revision` exists (was handed out or applied).
    func saw(_ revision: Int64) {
        state.withLock { $0.highWater = max($0.highWater, revision) }
    }

    /// A fresh read point from the oracle.
    func fresh() async throws -> Int64 {
        do {
            let r = try await access.freshRevision()
            saw(r)
            return r
        } catch {
            throw Self.mapFinal(error)
        }
    }

    /// A header revision for answers that read nothing (leases, alarms, compaction): a
    /// fresh one from the oracle, so it is at least that of every write acknowledged before
    /// the request started, on any node (the robustness harness caught a stale
    /// per-router high-water mark here).
    func headerRevision() async throws -> Int64 { try await fresh() }

    /// Checks that an explicit revision is not in the future (above every revision the
    /// oracle handed out); compaction is checked by the ranges.
    func checkNotFuture(_ revision: Int64) async throws {
        if revision <= state.withLock({ $0.highWater }) { return }
        if revision > (try await fresh()) { throw MVCCError.futureRevision }
    }
}

/// Wall-clock microseconds (seeds the request-ID counter).
func wallClockMicroseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec / 1000)
}
