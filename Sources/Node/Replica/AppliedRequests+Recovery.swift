import Base
import MVCC
import RaftCore
import WAL

/// Rebuilding the de-duplication memory after a restart. The entries a replica applied
/// before the crash and committed to the data file are not replayed, but those still in
/// the WAL can be read back, and each write's `RaftCommand` names its request ID and
/// revision. The rebuilt table must make the same apply-time decisions as a replica that
/// never restarted, so each entry's outcome is read back from MVCC:
/// - a put applied iff its key has a version at exactly its revision: `applied` with its
///   result rebuilt (or `lost` when its previous version, asked for, is compacted);
///   not applied: not recorded (a failed command is not recorded live either);
/// - a delete or a txn with writes applied with a change iff MVCC has an event at its
///   revision: `lost` (its result is not rebuilt);
/// - otherwise (no event: refused, or applied without changing anything — a delete that
///   found nothing, a txn whose branch wrote nothing — or MVCC compacted past it):
///   `uncertain`. A retry is refused at proposal time, but a second entry with the ID still
///   applies. Known limit: a replica that never restarted skips that second entry when the
///   first one succeeded without a change, so this rare case can still diverge.
/// Known limit: WAL garbage collection does not wait for the window. When it deleted part
/// of the window (a range with fewer than `windowEntries` entries in the WAL's live
/// segments), the rebuilt table misses the IDs of the deleted part, and a duplicate entry
/// whose first copy lay there would apply on this replica only.
/// Compactions, lease revokes, no-ops, read-only txns and system commands are never
/// de-duplicated (running them again is harmless or they carry no client ID).
extension AppliedRequests {
    mutating func recover(range: RangeID, wal: WriteAheadLog, store: MVCCStore, appliedIndex: UInt64) {
        guard appliedIndex > 0, let (first, _) = wal.bounds(of: range), first <= appliedIndex,
              let entries = try? wal.entries(of: range, from: first, to: appliedIndex + 1, maxBytes: .max)
        else { return }
        let windowStart = appliedIndex >= windowEntries ? appliedIndex - windowEntries + 1 : 1
        for e in entries where e.type == .normal && !e.data.isEmpty {
            guard let cmd = try? RaftCommand.decode(e.data), cmd.requestID != 0, cmd.revision > 0,
                  cmd.body.isDeduplicated
            else { continue }
            guard e.index >= windowStart else {
                // Evicted before the restart: only the watermark remembers it.
                let (router, counter) = Self.split(cmd.requestID)
                noteEvicted(router: router, counter: counter)
                continue
            }
            switch cmd.body.withoutGrants {
            case .put(let p):
                if let result = Self.rebuiltPut(p, revision: cmd.revision, store: store) {
                    record(cmd.requestID, result, index: e.index)
                } else {
                    switch Self.putApplied(p, revision: cmd.revision, store: store) {
                    case true: recordLost(cmd.requestID, index: e.index, revision: cmd.revision)
                    case false: continue
                    case nil: recordUncertain(cmd.requestID, index: e.index, revision: cmd.revision)
                    }
                }
            default:
                if Self.changed(at: cmd.revision, store: store) {
                    recordLost(cmd.requestID, index: e.index, revision: cmd.revision)
                } else {
                    recordUncertain(cmd.requestID, index: e.index, revision: cmd.revision)
                }
            }
        }
        // IDs evicted before the restart are unknown: conservatively, a router's requests
        // up to its newest one in the rebuilt window count as possibly applied (a retry of
        // one that is not recorded is refused as outside the window).
        for (router, counter) in records(through: appliedIndex).map({ Self.split($0.id) }) {
            noteEvicted(router: router, counter: counter)
        }
    }

    /// Whether the put applied (its key has a version at its revision); nil when MVCC can
    /// no longer tell (compacted).
    static func putApplied(_ p: PutRequest, revision: Int64, store: MVCCStore) -> Bool? {
        guard let r = try? store.range(RangeRequest(key: p.key, revision: revision)) else { return nil }
        return r.kvs.first?.modRevision == revision
    }

    /// The put's response rebuilt from MVCC, or nil when it did not apply or its previous
    /// version (asked for) is compacted away.
    static func rebuiltPut(_ p: PutRequest, revision: Int64, store: MVCCStore) -> CommandResult? {
        guard putApplied(p, revision: revision, store: store) == true else { return nil }
        var response = PutResponse(revision: revision)
        if p.prevKV {
            guard let before = try? store.range(RangeRequest(key: p.key, revision: revision - 1)) else { return nil }
            response.prevKV = before.kvs.first
        }
        return .put(response)
    }

    /// Whether the range has an event at exactly `revision` (false when compacted).
    static func changed(at revision: Int64, store: MVCCStore) -> Bool {
        guard case .events(let events, _)? = try? store.events(key: [0], rangeEnd: [0], fromRevision: revision, limit: 1)
        else { return false }
        return events.first?.kv.modRevision == revision
    }
}

extension RaftCommand.Body {
    /// Whether apply-time de-duplication covers this command: client writes (puts,
    /// deletes, txns with writes). Everything else runs again harmlessly or carries no
    /// client request ID.
    var isDeduplicated: Bool {
        switch self {
        case .put, .deleteRange: true
        case .txn(let t): !t.isReadOnly
        case .compact, .noOp, .system, .revokeLease: false
        case .granted(_, let body): body.isDeduplicated
        }
    }
}
