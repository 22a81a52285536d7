import Base
import MVCC
import RaftCore
import WAL

/// Rebuilding the de-duplication memory after a restart. The entries a replica applied
/// before the crash and committed to the data file are not replayed, but those still in the
/// WAL can be read back: each write's `RaftCommand` names its request ID and revision.
extension AppliedRequests {
    /// Remembers the requests of `range`'s log entries in the WAL at or below
    /// `appliedIndex` (the newest `maxCount`), checking MVCC for what each did:
    /// - a put applied iff its key has a version at exactly its revision; its result
    ///   (revision, and the previous version when asked for) is rebuilt from MVCC;
    /// - a delete or txn (applied or refused: MVCC cannot tell cheaply) is remembered as
    ///   `lost`: a retry is refused rather than risking a second application;
    /// - compactions, lease revokes and no-ops are not remembered (running them again is
    ///   harmless), nor are system commands.
    mutating func recover(range: RangeID, wal: WriteAheadLog, store: MVCCStore, appliedIndex: UInt64, now: UInt64) {
        guard appliedIndex > 0, let (first, _) = wal.bounds(of: range) else { return }
        let lo = max(first, appliedIndex >= UInt64(maxCount) ? appliedIndex - UInt64(maxCount) + 1 : 1)
        guard lo <= appliedIndex, let entries = try? wal.entries(of: range, from: lo, to: appliedIndex + 1, maxBytes: .max)
        else { return }
        for e in entries where e.type == .normal && !e.data.isEmpty {
            guard let cmd = try? RaftCommand.decode(e.data), cmd.requestID != 0, cmd.revision > 0 else { continue }
            switch cmd.body {
            case .put(let p):
                if let result = Self.rebuiltPut(p, revision: cmd.revision, store: store) {
                    record(cmd.requestID, result, now: now)
                } else if Self.putApplied(p, revision: cmd.revision, store: store) != false {
                    recordLost(cmd.requestID, revision: cmd.revision, now: now)
                }
            case .deleteRange, .txn:
                recordLost(cmd.requestID, revision: cmd.revision, now: now)
            case .compact, .noOp, .system, .revokeLease:
                continue
            }
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
}
