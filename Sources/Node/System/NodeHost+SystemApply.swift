import Base
import MVCC

/// The deterministic applies of the system range's commands and of lease revocations in
/// user ranges. Both run on the poll loop, inside the host's state lock.
extension NodeHost {
    /// Applies a system command on the system range replica `r` (deterministic). On the
    /// leader, the term's session also learns the outcome (new block, granted or removed
    /// lease); the session is leader-local memory, not replicated state.
    func applySystem(_ bytes: [UInt8], index: UInt64, on r: RangeReplica) -> Result<CommandResult, ProposalError> {
        guard r.rangeID == .system else {
            return .failure(.proposalDropped("system command applied to \(r.rangeID), not the system range"))
        }
        let command: SystemCommand
        do {
            command = try SystemCommand.decode(bytes)
        } catch {
            return .failure(.proposalDropped("undecodable system command: \(error)"))
        }
        let leaderTerm: UInt64? = r.isLeader ? r.raw.status.hardState.term : nil
        let now = Self.nowNs()
        return system.state.withLock { s -> Result<CommandResult, ProposalError> in
            do {
                let answer = try SystemStateMachine.apply(command, to: r.store)
                if let leaderTerm, s.session?.term == leaderTerm {
                    // A grant's revision is the one its write just took (the store's current).
                    s.session!.noteApplied(command, answer, nowNs: now, systemRevision: r.store.currentRevision)
                }
                return .success(.system(answer.encoded()))
            } catch let e as MVCCError {
                return .failure(.rejected(e))
            } catch {
                fatalError("node \(nodeID): applying a system command failed: \(error)")
            }
        }
    }

    /// Deletes every key of `r`'s range attached to lease `id` at `revision`, all at that one
    /// revision (`LeaseRevocation`, deterministic). Answers the keys deleted; with none,
    /// nothing is written and the answer carries the range's current revision. With
    /// `grantRevision` (> 0), the range records that grant as revoked (`RevokedLeases`).
    func applyRevokeLease(_ id: Int64, grantRevision: Int64 = 0, revision: Int64,
                          on r: RangeReplica) -> Result<CommandResult, ProposalError> {
        do {
            let response = try LeaseRevocation.revoke(id, in: r.store, revision: revision)
            if grantRevision > 0 {
                var record = r.revokedLeases
                record.record(id, grantRevision: grantRevision)
                if record != r.revokedLeases {
                    r.revokedLeases = record
                    r.store.setRevokedLeases(record.encoded())
                }
            }
            return .success(.revokeLease(response))
        } catch let e as MVCCError {
            return .failure(.rejected(e))
        } catch {
            fatalError("node \(nodeID): revoking lease \(id) in \(r.rangeID) failed: \(error)")
        }
    }
}

extension NodeHost {
    /// A put, txn or revokeLease naming lease grants (`RaftCommand.Body.granted`). A revoke
    /// records its grant; a put or txn that attaches a lease whose named grant this range
    /// recorded as revoked fails with etcd's "requested lease not found" and changes nothing
    /// (a txn fails whole, as etcd's `checkTxn` refuses it: only puts of the branches the
    /// compares take count). Deterministic: depends on the range's record and the entry.
    func applyGranted(_ grants: [LeaseGrant], _ body: RaftCommand.Body, revision: Int64,
                      on r: RangeReplica) throws -> Result<CommandResult, ProposalError> {
        let record = r.revokedLeases
        let refused = Set(grants.filter { record.refuses($0.lease, grantRevision: $0.grantRevision) }.map(\.lease))
        let store = r.store
        switch body {
        case .revokeLease(let id):
            let grant = grants.first { $0.lease == id }?.grantRevision ?? 0
            return applyRevokeLease(id, grantRevision: grant, revision: revision, on: r)
        case .put(let p):
            if p.lease != 0, !p.ignoreLease, refused.contains(p.lease) { return .failure(.rejected(.leaseNotFound)) }
            return .success(.put(try store.put(p, revision: revision)))
        case .txn(let t):
            return .success(.txn(try store.txn(t, revision: t.isReadOnly ? nil : revision, refusingLeases: refused)))
        default:
            // Only puts, txns and revokes name grants; anything else is refused alike everywhere.
            return .failure(.proposalDropped("lease grants on a command that takes none"))
        }
    }
}
