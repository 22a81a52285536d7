public import Base
import MVCC

/// The receiving side of the node call channel: decodes a `NodeCall`, runs it on this
/// node's runtime (`NodeHost+Cluster.swift`, `NodeHost+System.swift`) and encodes the
/// answer. Malformed calls are answered with a failure; nothing here can crash on bytes
/// from the network.
extension NodeHost: NodeCallHandler {
    /// Largest batch of oracle revisions one call may ask for.
    static let maxOracleRevisionsPerCall = 1 << 20
    /// Longest feed long-poll a caller may ask for.
    static let maxFeedWaitMs = 60_000

    public func handleCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8] {
        guard let tag = request.first, tag != 0 else {
            return NodeCallAnswer.failure(.proposalDropped("malformed node call: no tag")).encoded()
        }
        if tag < NodeCall.tagRange.lowerBound { return await handleCoreCall(from: node, request) }
        let call: NodeCall
        do {
            call = try NodeCall.decode(request)
        } catch {
            return NodeCallAnswer.failure(.proposalDropped("malformed node call: \(error)")).encoded()
        }
        return await answer(call, from: node).encoded()
    }

    /// The hot calls without a task (session 11): a forwarded proposal, fresh read or (on
    /// the system range leader) a peer's oracle fetch is
    /// handed to the poll loop with `answer` as its reply, so the answer is encoded and
    /// queued on the loop when the entry applies or the read is served — no task to start
    /// when the call arrives, none to resume when it ends. Every other call runs in a task
    /// as `handleCall(from:_:)` does.
    public func handleCall(from node: NodeID, _ request: [UInt8], answer: @escaping @Sendable ([UInt8]) -> Void) {
        guard let tag = request.first, tag >= NodeCall.tagRange.lowerBound, let call = try? NodeCall.decode(request) else {
            Task { answer(await handleCall(from: node, request)) }
            return
        }
        switch call {
        case .propose(let body, let range, let epoch, let requestID):
            submit(body, to: range, epoch: epoch, requestID: requestID, deduplicate: true, waiters: ProposalWaiters { result in
                switch result {
                case .success(let r): answer(NodeCallAnswer.result(r).encoded())
                case .failure(let e): answer(NodeCallAnswer.failure(e).encoded())
                }
            })
        case .readFresh(let request, let range, let epoch):
            readFresh(request, in: range, epoch: epoch) { result in
                switch result {
                case .success(let r): answer(NodeCallAnswer.range(r).encoded())
                case .failure(let e): answer(NodeCallAnswer.failure(e).encoded())
                }
            }
        case .oracleRevisions(let count) where (1...Self.maxOracleRevisionsPerCall).contains(count):
            oracleRevisions(count: count) { result in
                switch result {
                case .success(let r): answer(NodeCallAnswer.revisions(r).encoded())
                case .failure(let e): answer(NodeCallAnswer.failure(e).encoded())
                }
            }
        default:
            Task { answer(await self.answer(call, from: node).encoded()) }
        }
    }

    /// Runs one decoded call on this node.
    public func answer(_ call: NodeCall, from node: NodeID) async -> NodeCallAnswer {
        do throws(ProposalError) {
            switch call {
            case .propose(let body, let range, let epoch, let requestID):
                return .result(try await propose(body, to: range, epoch: epoch, requestID: requestID))
            case .read(let request, let range, let epoch):
                return .range(try await read(at: request, in: range, epoch: epoch))
            case .readFresh(let request, let range, let epoch):
                return .range(try await readFresh(request, in: range, epoch: epoch))
            case .localRead(let request, let range):
                return .range(try localRead(request, in: range))
            case .nextFeedBatch(let range, let epoch, let from, let prevKV, let maxEvents, let waitMs):
                return .feed(try await nextFeedBatch(range: range, epoch: epoch, from: from, prevKV: prevKV,
                                                     maxEvents: max(1, maxEvents),
                                                     waitMs: min(max(0, waitMs), Self.maxFeedWaitMs)))
            case .freshRevision:
                return .revision(try await freshRevision())
            case .oracleRevisions(let count):
                guard (1...Self.maxOracleRevisionsPerCall).contains(count) else {
                    return .failure(.proposalDropped("oracleRevisions: count \(count) out of bounds"))
                }
                return .revisions(try await oracleRevisions(count: count))
            case .routingTable:
                return .routes(routingTable())
            case .resolvedRevision(let range):
                return .optionalRevision(resolvedRevision(of: range))
            case .closeForFollower(let range, let revision):
                return .index(try await closeForFollower(range: range, revision: revision))
            case .systemLeader:
                return .node(systemLeader())
            case .leaseGrant(let id, let ttl):
                return .lease(try await leaseGrant(id: id, ttl: ttl))
            case .leaseLookup(let id):
                return .lease(try await leaseLookup(id: id))
            case .leaseKeepAlive(let id):
                return .lease(try await leaseKeepAlive(id: id))
            case .leaseRemove(let id):
                return .removed(try await leaseRemove(id: id))
            case .leases:
                return .leases(try await leases())
            case .expiredLeases:
                return .leaseIDs(await expiredLeases())
            case .leaseBeginRevoke(let id):
                return .lease(try await leaseBeginRevoke(id: id))
            }
        } catch {
            return .failure(error)
        }
    }
}
