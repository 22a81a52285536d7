public import API
import Base
import MVCC
import Node

/// Cluster-wide leases: the records live in the system range (`ClusterAccess.lease*`);
/// keys attached to a lease live in any range, so a revoke proposes `.revokeLease` to
/// every range (each deletes its attached keys atomically) before removing the record.
///
/// A revoke, once begun, always completes, and the lease is gone for every observer from
/// its first step on: (1) mark the lease "revoking" in the system range
/// (`ClusterAccess.leaseBeginRevoke`, a Raft command: lookups, keep-alives and the list miss
/// it from then on, so KeepAlive answers TTL 0, TimeToLive -1, a put with it
/// "requested lease not found", Leases leaves it out, and a grant of its ID is refused as
/// "lease already exists" until the record is removed); (2) sweep every range; (3) remove
/// the record; (4) sweep again (`finishRevoke`). When the router doing it dies after (1), the
/// expiry loop on the system range leader's node finds the lease left revoking
/// (`expiredLeases`, after a grace of about a second) and runs (1)–(4) again; a client
/// revoking it again does the same (the mark is idempotent).
extension Router: EtcdLeaseBackend {
    public func leaseGrant(id: Int64, ttl: Int64) async throws -> LeaseGrantResult {
        let record = try await access.leaseGrant(id: id, ttl: ttl)
        return LeaseGrantResult(id: record.id, ttl: record.grantedTTL, revision: try await headerRevision())
    }

    /// Revokes lease `id` (also one already revoking: finishes it). etcd's "requested lease
    /// not found" when no such lease is recorded.
    public func leaseRevoke(id: Int64) async throws -> Int64 {
        guard let record = try await access.leaseBeginRevoke(id: id) else { throw EtcdError.leaseNotFound }
        CrashPoint.leaseRevokeAfterMark.hit()
        return try await finishRevoke(LeaseGrant(lease: id, grantRevision: record.grantRevision)).revision
    }

    /// The steps of a revoke after its mark: sweep every range, remove the record, sweep
    /// again. Returns the header revision and whether this call removed the record.
    func finishRevoke(_ grant: LeaseGrant) async throws -> (revision: Int64, removed: Bool) {
        var revision = try await revokeAttachedKeys(grant)
        CrashPoint.leaseRevokeAfterSweep.hit()
        let removed = try await access.leaseRemove(id: grant.lease)
        // Second sweep: puts whose lookup preceded the mark (see `sweepIfRevoked`).
        revision = max(revision, try await revokeAttachedKeys(grant, onlyIfDeleted: true))
        return (revision, removed)
    }

    /// Deletes the keys attached to the lease in every range, each range recording the
    /// grant as revoked (`RevokedLeases`); returns the header revision: the deletes' revision,
    /// or with nothing deleted a fresh one (0 with `onlyIfDeleted`).
    func revokeAttachedKeys(_ grant: LeaseGrant, onlyIfDeleted: Bool = false) async throws -> Int64 {
        let access = self.access
        let body = Self.naming([grant], .revokeLease(grant.lease))
        let pieces = try await fanOut(.all) { route, _, node, requestID throws(ProposalError) in
            try await access.propose(body, range: route.descriptor.rangeID, epoch: route.descriptor.epoch,
                                     requestID: requestID, on: node)
        }
        var revision: Int64 = 0
        var deleted: Int64 = 0
        for p in pieces {
            if case .revokeLease(let r) = p.value {
                revision = max(revision, r.revision)
                deleted += r.deleted
            }
        }
        saw(revision)
        // A range that deleted something answers its write's fresh revision (above every
        // revision handed out before); one that deleted nothing answers its last write's,
        // which can lie below revisions the client already saw: then a fresh one.
        if deleted > 0 { return revision }
        return onlyIfDeleted ? 0 : try await headerRevision()
    }

    public func leaseKeepAlive(id: Int64) async throws -> LeaseKeepAliveResult {
        let record = try await access.leaseKeepAlive(id: id)
        return LeaseKeepAliveResult(id: id, ttl: record.map { max($0.remainingTTL, 0) } ?? 0,
                                    revision: try await headerRevision())
    }

    /// With `keys`, the attached keys come from a keys-only Range over the whole keyspace
    /// at one revision, filtered by lease here: it reads every key of the cluster (cost
    /// proportional to the keyspace, not to the lease), acceptable for an admin call.
    public func leaseTimeToLive(id: Int64, keys: Bool) async throws -> LeaseTimeToLiveResult {
        guard let record = try await access.leaseLookup(id: id), record.remainingTTL > 0 else {
            return LeaseTimeToLiveResult(id: id, ttl: -1, grantedTTL: 0, keys: [], revision: try await headerRevision())
        }
        var attached: [[UInt8]] = []
        var revision = try await headerRevision()
        if keys {
            let all = try await range(RangeRequest(key: [0], rangeEnd: [0], keysOnly: true))
            attached = all.kvs.filter { $0.lease == id }.map(\.key)
            revision = all.revision
        }
        return LeaseTimeToLiveResult(id: id, ttl: record.remainingTTL, grantedTTL: record.grantedTTL,
                                     keys: attached, revision: revision)
    }

    public func leases() async throws -> (ids: [Int64], revision: Int64) {
        let all = try await access.leases()
        return (all.map(\.id).sorted(), try await headerRevision())
    }

    /// Revokes every lease `ClusterAccess.expiredLeases()` reports (non-empty only on the
    /// system range leader's node): expired ones, and ones whose revoke began and was left
    /// unfinished (their router died). Each is marked revoking (a no-op when it is already)
    /// and finished. A failure does not stop the others; the first one is thrown at the end.
    /// Returns the IDs whose record this call removed.
    @discardableResult
    public func revokeExpiredLeases() async throws -> [Int64] {
        var revoked: [Int64] = []
        var firstError: (any Error)?
        for id in try await access.expiredLeases() {
            do {
                guard let record = try await access.leaseBeginRevoke(id: id) else { continue }
                let grant = LeaseGrant(lease: id, grantRevision: record.grantRevision)
                if try await finishRevoke(grant).removed { revoked.append(id) }
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        return revoked
    }

    /// Starts the lease expiry loop (every `Config.leaseExpiryInterval`); cancel the task
    /// to stop it, which also stops the late lease re-check worker (`LateLeaseRechecks`).
    public func startLeaseExpiry() -> Task<Void, Never> {
        Task { [self] in
            defer { stopLateLeaseRechecks() }
            while !Task.isCancelled {
                do { try await Task.sleep(for: config.leaseExpiryInterval) } catch { return }
                _ = try? await revokeExpiredLeases()
            }
        }
    }
}

/// Closing the race between a put attaching a lease and the lease's revoke. The put looks
/// the lease up, then proposes; a revoke in between could sweep the put's range before the
/// put applies and leave the key attached to a removed lease. The range itself refuses such
/// a put at apply (it recorded the revoked grant, `RevokedLeases`); the router's checks
/// below remain for what that record does not cover (no grant revision known, records
/// evicted by its cap). Both sides close it:
/// - a revoke marks the lease revoking (lookups miss it from then on), sweeps every range,
///   removes the record, then sweeps again: a put that applied before the removal (its
///   lookup saw the lease, so it preceded the mark) is caught by the second sweep;
/// - a put (or txn) attaching a lease looks it up again after it applied: gone means the
///   mark happened before that lookup, maybe before the put applied, so it sweeps its
///   own range for the lease before answering.
/// A put that applied after both sweeps therefore finds the lease gone and sweeps itself;
/// one that applied before the removal is caught by the second sweep. The put still
/// answers success (it did apply; the revoke deleted its key afterwards, at a later revision,
/// as watchers see), so the re-check and the sweep are best effort: their failures are not
/// the client's. Left open: a router that dies (or whose re-check fails) between a put and
/// its sweep.
extension Router {
    /// Sweeps the range holding `spans` for every lease of `grants` that no longer exists
    /// (best effort: a failed sweep is not thrown), recording the grant there as revoked.
    /// The lookup is retried until it answers (an election of the system range right after
    /// a partition made single lookups fail, and a failed lookup skipped the sweep:
    /// finding 7, partition-leader seed 2051).
    func sweepIfRevoked(_ grants: [LeaseGrant], spans: [KeySpan]) async {
        let access = self.access
        for grant in grants {
            guard await leaseIsGone(grant.lease) == true else { continue }
            let body = Self.naming([grant], .revokeLease(grant.lease))
            let piece = try? await onOneRange(spans) { route, _, node, requestID throws(ProposalError) in
                try await access.propose(body, range: route.descriptor.rangeID,
                                         epoch: route.descriptor.epoch, requestID: requestID, on: node)
            }
            if case .revokeLease(let r)? = piece?.value { saw(r.revision) }
        }
    }

    /// Whether `lease` is gone: true / false once a lookup answered, nil when none did in
    /// `Config.maxAttempts` tries.
    func leaseIsGone(_ lease: Int64) async -> Bool? {
        var backoff = config.initialBackoff * 4
        for attempt in 0..<config.maxAttempts {
            if attempt > 0 {
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, config.maxBackoff)
            }
            do {
                return try await access.leaseLookup(id: lease) == nil
            } catch {
                continue
            }
        }
        return nil
    }

    /// A put or txn attaching `leases` whose outcome is unknown (the retries ran out, it may
    /// still apply: a proposal held up by a partition applied seconds later, after the
    /// revoke's second sweep, with nobody left to re-check it) is re-checked once more after
    /// `Config.lateLeaseRecheckDelay`, in the background, by the router's one re-check
    /// worker (`LateLeaseRechecks`: bounded, coalescing).
    func recheckLeasesLater(_ leases: [LeaseGrant], spans: [KeySpan]) {
        guard !leases.isEmpty, lateRechecks.enqueue(leases, spans: spans) else { return }
        let worker = Task.detached { [self] in await drainLateRechecks() }
        lateRechecks.attach(worker)
    }

    /// The re-check worker: sweeps each due lease, sleeps until the next one is due, exits
    /// when the queue is empty or stopped.
    func drainLateRechecks() async {
        while true {
            switch lateRechecks.next() {
            case .exit:
                return
            case .sleep(let until):
                do { try await Task.sleep(until: until, clock: .continuous) } catch {
                    _ = lateRechecks.next(now: .now)  // stopped: clears the worker flag
                    return
                }
            case .run(let due):
                for item in due {
                    await sweepIfRevoked([item.grant], spans: item.spans)
                }
            }
        }
    }

    /// Stops the late re-check worker (with the router's background work).
    public func stopLateLeaseRechecks() { lateRechecks.stop() }
}
