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
                    s.session!.noteApplied(command, answer, nowNs: now)
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
    /// nothing is written and the answer carries the range's current revision.
    func applyRevokeLease(_ id: Int64, revision: Int64, on r: RangeReplica) -> Result<CommandResult, ProposalError> {
        do {
            return .success(.revokeLease(try LeaseRevocation.revoke(id, in: r.store, revision: revision)))
        } catch let e as MVCCError {
            return .failure(.rejected(e))
        } catch {
            fatalError("node \(nodeID): revoking lease \(id) in \(r.rangeID) failed: \(error)")
        }
    }
}
