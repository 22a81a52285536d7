public import Base
public import MVCC
import RaftCore

/// Linearizable reads and range closes through Raft's ReadIndex: the leader confirms its
/// leadership with a heartbeat round, then answers once the read index is applied.
///
/// A read or close at revision R first closes the range at R (`LeaderRevisions.close`: no
/// later write of this leader gets a revision <= R) and notes the last in-flight write of
/// this leader with a revision <= R; it is served once both that write's index and the read
/// index are applied, so every write of the range with a revision <= R has applied (writes
/// of earlier terms are committed by the leader's first entry, which ReadIndex waits for;
/// later leaders take revisions fetched after this leadership was confirmed, so above R).
/// The reads and closes of one range that one poll round takes share one ReadIndex, issued
/// after all of them closed (`handleReads`; docs/node-runtime.md has the argument).
/// (Serializable reads need no Raft: `localRead` or `store(for:)?.range(...)`.)
extension NodeHost {
    /// etcd's linearizable Range on this node's replica of `range`, which must lead it, at
    /// the range's latest state (`request.revision` as MVCC reads it).
    public func read(_ request: RangeRequest, in range: RangeID,
                     epoch: RangeDescriptor.Epoch? = nil) async throws(ProposalError) -> RangeResponse {
        try await readIndexed(request, at: 0, in: range, epoch: epoch)
    }

    /// A read at `revision` (> 0; 0: the latest state) after closing the range there.
    func readIndexed(_ request: RangeRequest, at revision: Int64, in range: RangeID,
                     epoch: RangeDescriptor.Epoch?) async throws(ProposalError) -> RangeResponse {
        let id = nextRequestID()
        let deadline = Self.nowNs() + UInt64(config.proposalTimeoutMs) * 1_000_000
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<RangeResponse, ProposalError>, Never>) in
            let req = ReadRequest(requestID: id, rangeID: range, epoch: epoch, revision: revision, deadlineNs: deadline,
                                  purpose: .read(request, { c.resume(returning: $0) }))
            if !enqueueRead(req) { req.fail(.proposalDropped("node stopped")) }
        }
        return try result.get()
    }

    /// Closes `range` (led by this node) at `revision` and returns the log index whose
    /// apply makes every write of the range with a revision <= `revision` applied.
    func closeRange(_ range: RangeID, at revision: Int64) async throws(ProposalError) -> UInt64 {
        let id = nextRequestID()
        let deadline = Self.nowNs() + UInt64(config.proposalTimeoutMs) * 1_000_000
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<UInt64, ProposalError>, Never>) in
            let req = ReadRequest(requestID: id, rangeID: range, epoch: nil, revision: revision, deadlineNs: deadline,
                                  purpose: .close(c))
            if !enqueueRead(req) { req.fail(.proposalDropped("node stopped")) }
        }
        return try result.get()
    }

    func enqueueRead(_ req: ReadRequest) -> Bool {
        enqueue { m in
            guard !m.stopping else { return false }
            m.reads.append(req)
            return true
        }
    }

    func nextRequestID() -> UInt64 {
        UInt64(nodeID.rawValue & 0xFFFF) << 48 | (requestCounter.add(1, ordering: .relaxed).newValue & (1 << 48 - 1))
    }

    /// Starts the round's reads: one ReadIndex request per range for every read (and close)
    /// of that range in the round, on the leader only (etcd's `linearizableReadLoop`
    /// batching). Each read first closes the range at its revision and notes its in-flight
    /// write; the range's single ReadIndex is issued after all of them, so its read index is
    /// taken after every read of the batch arrived and closed — what one ReadIndex per read
    /// gave each read (see the type comment).
    func handleReads(_ reads: [ReadRequest], _ s: inout HostState) {
        var batches: [RangeID: UInt64] = [:]
        var fresh: [ReadRequest] = []
        for q in reads {
            guard let r = s.replicas[q.rangeID] else {
                q.fail(.rangeNotFound(q.rangeID))
                continue
            }
            if let epoch = q.epoch, epoch != r.descriptor.epoch {
                q.fail(.epochMismatch(current: r.descriptor))
                continue
            }
            r.wake()
            guard r.isLeader else {
                q.fail(.notLeader(leaderHint: r.leaderNode))
                continue
            }
            if q.takesFreshPoint {
                // The read point first (`NodeHost+LoopOracle`); the read comes back with it.
                fresh.append(q)
                continue
            }
            var inFlight: UInt64 = 0
            if q.revision > 0 {
                r.leaderRevisions.close(at: q.revision)
                inFlight = r.leaderRevisions.lastIndex(atOrBelow: q.revision)
            }
            let batch: UInt64
            if let b = batches[q.rangeID] {
                batch = b
            } else {
                batch = nextRequestID()
                s.readBatches[batch] = ReadBatch(rangeID: q.rangeID)
                if config.batchReadIndex {
                    batches[q.rangeID] = batch
                } else {
                    issueReadIndex(batch, on: r, &s)  // the old way: one ReadIndex per read
                }
            }
            s.readBatches[batch]?.members += 1
            s.pendingReads[q.requestID] = PendingRead(request: q, batch: batch, inFlightIndex: inFlight)
            s.readsPerRange[q.rangeID, default: 0] += 1
        }
        for (range, batch) in batches {
            guard let r = s.replicas[range] else { continue }
            issueReadIndex(batch, on: r, &s)
        }
        if !fresh.isEmpty { fetchReadPoint(for: fresh, &s) }
    }

    private func issueReadIndex(_ batch: UInt64, on r: RangeReplica, _ s: inout HostState) {
        var context = BinaryWriter(capacity: 8)
        context.write(batch)
        r.raw.readIndex(context: context.bytes)
        s.metrics.readIndexRequests += 1
    }

    /// Records the read indexes Raft confirmed (one per batch).
    func noteReadStates(_ states: [ReadState], _ s: inout HostState) {
        for rs in states where rs.context.count == 8 {
            let id = rs.context.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
            s.readBatches[id]?.index = rs.index
        }
    }

    /// Serves every confirmed read whose wait index is applied (a close answers with its
    /// wait index as soon as leadership is confirmed); fails expired reads and reads of
    /// replicas that no longer lead.
    func serveReads(_ s: inout HostState, now: UInt64) {
        guard !s.pendingReads.isEmpty else { return }
        var done: [(UInt64, ReadOutcome)] = []
        for (id, p) in s.pendingReads {
            guard let r = s.replicas[p.request.rangeID] else {
                done.append((id, .failure(.rangeNotFound(p.request.rangeID))))
                continue
            }
            if let index = s.readBatches[p.batch]?.index {
                let waitIndex = max(index, p.inFlightIndex)
                switch p.request.purpose {
                case .close:
                    done.append((id, .closed(waitIndex)))
                    continue
                case .read(let request, _) where r.appliedIndex >= waitIndex:
                    done.append((id, serve(request, at: p.request.revision, on: r)))
                    continue
                case .read:
                    break
                }
            }
            if !r.isLeader {
                done.append((id, .failure(.notLeader(leaderHint: r.leaderNode))))
            } else if p.request.deadlineNs <= now {
                done.append((id, .failure(.timeout)))
            }
        }
        for (id, outcome) in done {
            guard let p = s.pendingReads.removeValue(forKey: id) else { continue }
            s.leaveReadBatch(p.batch)
            s.readsPerRange[p.request.rangeID, default: 1] -= 1
            if s.readsPerRange[p.request.rangeID] == 0 { s.readsPerRange[p.request.rangeID] = nil }
            p.request.finish(outcome)
            if case .response = outcome, p.request.revision > 0, let r = s.replicas[p.request.rangeID] {
                resolved.resolve(r.rangeID, at: p.request.revision)
            }
        }
    }

    /// MVCC state at `revision` (0: the latest). Nothing of the range with a revision <=
    /// `revision` is missing, so when it lies above the range's last write the state at the
    /// last write is the state at `revision`; the response carries `revision` itself.
    func serve(_ request: RangeRequest, at revision: Int64, on r: RangeReplica) -> ReadOutcome {
        do {
            guard revision > 0 else { return .response(try r.store.range(request)) }
            var atRevision = request
            atRevision.revision = min(revision, r.store.currentRevision)
            var response = try r.store.range(atRevision)
            response.revision = revision
            return .response(response)
        } catch let e as MVCCError {
            return .failure(.rejected(e))
        } catch {
            return .failure(.proposalDropped("read failed: \(error)"))
        }
    }
}

/// A linearizable read or a range close waiting in the mailbox.
struct ReadRequest: Sendable {
    /// How a read's answer reaches its caller, called once on the poll loop: a suspended
    /// task's continuation, or a node call's answer closure (it must not call back into the
    /// host).
    typealias ReadReply = @Sendable (Result<RangeResponse, ProposalError>) -> Void

    enum Purpose: Sendable {
        /// Answer `RangeRequest` from MVCC.
        case read(RangeRequest, ReadReply)
        /// Answer the log index that makes every write <= `revision` applied.
        case close(CheckedContinuation<Result<UInt64, ProposalError>, Never>)
    }

    var requestID: UInt64
    var rangeID: RangeID
    var epoch: RangeDescriptor.Epoch?
    /// Close the range at this revision and read at it (0: no close, read the latest).
    var revision: Int64
    var deadlineNs: UInt64
    var purpose: Purpose
    /// The loop first takes a fresh read point for it (`readFresh`, `NodeHost+LoopOracle`),
    /// then handles it as a read at that revision.
    var takesFreshPoint = false

    func fail(_ e: ProposalError) { finish(.failure(e)) }

    func finish(_ outcome: ReadOutcome) {
        switch (purpose, outcome) {
        case (.read(_, let reply), .response(let r)): reply(.success(r))
        case (.read(_, let reply), .failure(let e)): reply(.failure(e))
        case (.close(let c), .closed(let i)): c.resume(returning: .success(i))
        case (.close(let c), .failure(let e)): c.resume(returning: .failure(e))
        case (.read(_, let reply), .closed): reply(.failure(.proposalDropped("internal: close answer to a read")))
        case (.close(let c), .response): c.resume(returning: .failure(.proposalDropped("internal: read answer to a close")))
        }
    }
}

/// How a `ReadRequest` ended.
enum ReadOutcome {
    case response(RangeResponse)
    case closed(UInt64)
    case failure(ProposalError)
}

/// A read handed to Raft, waiting for its batch's read index (`HostState.readBatches`).
struct PendingRead {
    var request: ReadRequest
    /// The batch whose ReadIndex serves this read (the ReadIndex context).
    var batch: UInt64
    /// The last write of this leader with a revision <= the read's, not yet applied when
    /// the read closed the range (0: none).
    var inFlightIndex: UInt64
}

/// The reads of one range that share one ReadIndex request: `index` is set once Raft
/// confirmed leadership for it; removed when its last member read ends.
struct ReadBatch {
    var rangeID: RangeID
    var index: UInt64?
    var members = 0

    init(rangeID: RangeID) { self.rangeID = rangeID }
}

extension HostState {
    /// A member read of `batch` ended; drops the batch with its last member.
    mutating func leaveReadBatch(_ batch: UInt64) {
        guard var b = readBatches[batch] else { return }
        b.members -= 1
        readBatches[batch] = b.members > 0 ? b : nil
    }
}
