public import Base
public import MVCC

/// Typed calls to another node over a `NodeCallTransport`: encodes the `NodeCall`,
/// decodes the `NodeCallAnswer`, and turns every failure into a `ProposalError`:
/// - the node's own error travels back as itself;
/// - `NodeCallError.unreachable` (the request was never sent) → `.notLeader(leaderHint: .none)`,
///   so a router refreshes its routes and retries safely;
/// - `NodeCallError.timeout` (sent, no answer) → `.timeout`: the outcome is unknown;
/// - `NodeCallError.closed` and undecodable answers → `.proposalDropped`.
/// Plain value; owns nothing but the transport reference and the default timeout.
public struct NodeCallClient: Sendable {
    public let transport: any NodeCallTransport
    /// Timeout of calls that do not name one.
    public var timeoutMs: Int

    public init(transport: any NodeCallTransport, timeoutMs: Int) {
        self.transport = transport
        self.timeoutMs = timeoutMs
    }

    /// Sends `call` to `node` and returns its answer; a `.failure` answer is thrown.
    public func call(_ call: NodeCall, on node: NodeID, timeoutMs: Int? = nil) async throws(ProposalError) -> NodeCallAnswer {
        let bytes: [UInt8]
        do {
            bytes = try await transport.call(node, call.encoded(), timeoutMs: timeoutMs ?? self.timeoutMs)
        } catch {
            throw Self.proposalError(for: error)
        }
        let answer: NodeCallAnswer
        do {
            answer = try NodeCallAnswer.decode(bytes)
        } catch {
            throw .proposalDropped("undecodable answer from \(node) to \(call.name): \(error)")
        }
        if case .failure(let e) = answer { throw e }
        return answer
    }

    /// How a transport failure reads to the router (see the type's doc).
    public static func proposalError(for error: NodeCallError) -> ProposalError {
        switch error {
        case .unreachable: .notLeader(leaderHint: .none)
        case .timeout: .timeout
        case .closed: .proposalDropped(error.description)
        }
    }

    static func unexpected(_ answer: NodeCallAnswer, to call: String) -> ProposalError {
        .proposalDropped("unexpected answer to \(call): \(answer)")
    }

    // MARK: typed calls

    public func propose(_ body: RaftCommand.Body, range: RangeID, epoch: RangeDescriptor.Epoch?, requestID: UInt64,
                        on node: NodeID, timeoutMs: Int? = nil) async throws(ProposalError) -> CommandResult {
        let a = try await call(.propose(body, range: range, epoch: epoch, requestID: requestID), on: node,
                               timeoutMs: timeoutMs)
        guard case .result(let r) = a else { throw Self.unexpected(a, to: "propose") }
        return r
    }

    public func read(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch?,
                     on node: NodeID, timeoutMs: Int? = nil) async throws(ProposalError) -> RangeResponse {
        let a = try await call(.read(request, range: range, epoch: epoch), on: node, timeoutMs: timeoutMs)
        guard case .range(let r) = a else { throw Self.unexpected(a, to: "read") }
        return r
    }

    public func readFresh(_ request: RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch?,
                          on node: NodeID, timeoutMs: Int? = nil) async throws(ProposalError) -> RangeResponse {
        let a = try await call(.readFresh(request, range: range, epoch: epoch), on: node, timeoutMs: timeoutMs)
        guard case .range(let r) = a else { throw Self.unexpected(a, to: "readFresh") }
        return r
    }

    public func localRead(_ request: RangeRequest, range: RangeID, on node: NodeID) async throws(ProposalError) -> RangeResponse {
        let a = try await call(.localRead(request, range: range), on: node)
        guard case .range(let r) = a else { throw Self.unexpected(a, to: "localRead") }
        return r
    }

    /// One feed long poll; the call's timeout is `waitMs` plus the client's timeout.
    public func nextFeedBatch(range: RangeID, epoch: RangeDescriptor.Epoch? = nil, from: Int64, prevKV: Bool,
                              maxEvents: Int, waitMs: Int, on node: NodeID) async throws(ProposalError) -> RangeFeedItem {
        let a = try await call(.nextFeedBatch(range: range, epoch: epoch, from: from, prevKV: prevKV, maxEvents: maxEvents,
                                              waitMs: waitMs), on: node, timeoutMs: waitMs + timeoutMs)
        guard case .feed(let item) = a else { throw Self.unexpected(a, to: "nextFeedBatch") }
        return item
    }

    public func freshRevision(on node: NodeID) async throws(ProposalError) -> Int64 {
        let a = try await call(.freshRevision, on: node)
        guard case .revision(let r) = a else { throw Self.unexpected(a, to: "freshRevision") }
        return r
    }

    public func oracleRevisions(count: Int, on node: NodeID) async throws(ProposalError) -> ClosedRange<Int64> {
        let a = try await call(.oracleRevisions(count: count), on: node)
        guard case .revisions(let r) = a, r.count == count else { throw Self.unexpected(a, to: "oracleRevisions") }
        return r
    }

    public func routingTable(on node: NodeID) async throws(ProposalError) -> [RangeRoute] {
        let a = try await call(.routingTable, on: node)
        guard case .routes(let r) = a else { throw Self.unexpected(a, to: "routingTable") }
        return r
    }

    public func resolvedRevision(of range: RangeID, on node: NodeID) async throws(ProposalError) -> Int64? {
        let a = try await call(.resolvedRevision(range: range), on: node)
        guard case .optionalRevision(let r) = a else { throw Self.unexpected(a, to: "resolvedRevision") }
        return r
    }

    public func closeForFollower(range: RangeID, revision: Int64, on node: NodeID) async throws(ProposalError) -> UInt64 {
        let a = try await call(.closeForFollower(range: range, revision: revision), on: node)
        guard case .index(let i) = a else { throw Self.unexpected(a, to: "closeForFollower") }
        return i
    }

    public func systemLeader(on node: NodeID) async throws(ProposalError) -> NodeID {
        let a = try await call(.systemLeader, on: node)
        guard case .node(let n) = a else { throw Self.unexpected(a, to: "systemLeader") }
        return n
    }

    public func leaseGrant(id: Int64, ttl: Int64, on node: NodeID) async throws(ProposalError) -> LeaseRecord? {
        let a = try await call(.leaseGrant(id: id, ttl: ttl), on: node)
        guard case .lease(let l) = a else { throw Self.unexpected(a, to: "leaseGrant") }
        return l
    }

    public func leaseLookup(id: Int64, on node: NodeID) async throws(ProposalError) -> LeaseRecord? {
        let a = try await call(.leaseLookup(id: id), on: node)
        guard case .lease(let l) = a else { throw Self.unexpected(a, to: "leaseLookup") }
        return l
    }

    public func leaseKeepAlive(id: Int64, on node: NodeID) async throws(ProposalError) -> LeaseRecord? {
        let a = try await call(.leaseKeepAlive(id: id), on: node)
        guard case .lease(let l) = a else { throw Self.unexpected(a, to: "leaseKeepAlive") }
        return l
    }

    public func leaseRemove(id: Int64, on node: NodeID) async throws(ProposalError) -> Bool {
        let a = try await call(.leaseRemove(id: id), on: node)
        guard case .removed(let b) = a else { throw Self.unexpected(a, to: "leaseRemove") }
        return b
    }

    public func leases(on node: NodeID) async throws(ProposalError) -> [LeaseRecord] {
        let a = try await call(.leases, on: node)
        guard case .leases(let l) = a else { throw Self.unexpected(a, to: "leases") }
        return l
    }

    public func leaseBeginRevoke(id: Int64, on node: NodeID) async throws(ProposalError) -> LeaseRecord? {
        let a = try await call(.leaseBeginRevoke(id: id), on: node)
        guard case .lease(let l) = a else { throw Self.unexpected(a, to: "leaseBeginRevoke") }
        return l
    }

    public func expiredLeases(on node: NodeID) async throws(ProposalError) -> [Int64] {
        let a = try await call(.expiredLeases, on: node)
        guard case .leaseIDs(let ids) = a else { throw Self.unexpected(a, to: "expiredLeases") }
        return ids
    }
}
