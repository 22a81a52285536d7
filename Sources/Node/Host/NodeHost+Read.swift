public import Base
public import MVCC
import RaftCore

/// Linearizable reads through Raft's ReadIndex: the leader confirms its leadership with a
/// heartbeat round, then the read runs on its MVCC store once the read index is applied.
/// (Serializable reads need no Raft: `store(for:)?.range(...)` on any replica.)
extension NodeHost {
    /// etcd's linearizable Range on this node's replica of `range`, which must lead it.
    public func read(_ request: RangeRequest, in range: RangeID,
                     epoch: RangeDescriptor.Epoch? = nil) async throws(ProposalError) -> RangeResponse {
        let id = UInt64(nodeID.rawValue & 0xFFFF) << 48 | (requestCounter.add(1, ordering: .relaxed).newValue & (1 << 48 - 1))
        let deadline = Self.nowNs() + UInt64(config.proposalTimeoutMs) * 1_000_000
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<RangeResponse, ProposalError>, Never>) in
            let req = ReadRequest(requestID: id, rangeID: range, epoch: epoch, request: request, deadlineNs: deadline,
                                  continuation: c)
            let accepted = enqueue { m in
                guard !m.stopping else { return false }
                m.reads.append(req)
                return true
            }
            if !accepted { c.resume(returning: .failure(.proposalDropped("node stopped"))) }
        }
        return try result.get()
    }

    /// Starts the round's reads: one ReadIndex request per read, on the leader only.
    func handleReads(_ reads: [ReadRequest], _ s: inout HostState) {
        for q in reads {
            guard let r = s.replicas[q.rangeID] else {
                q.continuation.resume(returning: .failure(.rangeNotFound(q.rangeID)))
                continue
            }
            if let epoch = q.epoch, epoch != r.descriptor.epoch {
                q.continuation.resume(returning: .failure(.epochMismatch(current: r.descriptor)))
                continue
            }
            r.wake()
            guard r.isLeader else {
                q.continuation.resume(returning: .failure(.notLeader(leaderHint: r.leaderNode)))
                continue
            }
            var context = BinaryWriter(capacity: 8)
            context.write(q.requestID)
            r.raw.readIndex(context: context.bytes)
            s.pendingReads[q.requestID] = PendingRead(request: q, index: nil)
            s.readsPerRange[q.rangeID, default: 0] += 1
        }
    }

    /// Records the read indexes Raft confirmed.
    func noteReadStates(_ states: [ReadState], _ s: inout HostState) {
        for rs in states where rs.context.count == 8 {
            let id = rs.context.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
            s.pendingReads[id]?.index = rs.index
        }
    }

    /// Serves every confirmed read whose index is applied; fails expired reads and reads of
    /// replicas that no longer lead.
    func serveReads(_ s: inout HostState, now: UInt64) {
        guard !s.pendingReads.isEmpty else { return }
        var done: [(UInt64, Result<RangeResponse, ProposalError>)] = []
        for (id, p) in s.pendingReads {
            guard let r = s.replicas[p.request.rangeID] else {
                done.append((id, .failure(.rangeNotFound(p.request.rangeID))))
                continue
            }
            if let index = p.index, r.appliedIndex >= index {
                do {
                    done.append((id, .success(try r.store.range(p.request.request))))
                } catch let e as MVCCError {
                    done.append((id, .failure(.rejected(e))))
                } catch {
                    done.append((id, .failure(.proposalDropped("read failed: \(error)"))))
                }
            } else if !r.isLeader {
                done.append((id, .failure(.notLeader(leaderHint: r.leaderNode))))
            } else if p.request.deadlineNs <= now {
                done.append((id, .failure(.timeout)))
            }
        }
        for (id, result) in done {
            guard let p = s.pendingReads.removeValue(forKey: id) else { continue }
            s.readsPerRange[p.request.rangeID, default: 1] -= 1
            if s.readsPerRange[p.request.rangeID] == 0 { s.readsPerRange[p.request.rangeID] = nil }
            p.request.continuation.resume(returning: result)
        }
    }
}

/// A linearizable read waiting in the mailbox.
struct ReadRequest: Sendable {
    var requestID: UInt64
    var rangeID: RangeID
    var epoch: RangeDescriptor.Epoch?
    var request: RangeRequest
    var deadlineNs: UInt64
    var continuation: CheckedContinuation<Result<RangeResponse, ProposalError>, Never>
}

/// A read handed to Raft; `index` is set once leadership is confirmed.
struct PendingRead {
    var request: ReadRequest
    var index: UInt64?
}
