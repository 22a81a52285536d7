public import API
import Base
public import MVCC
import Node

/// KV writes: Put and Txn on the one range holding their keys; DeleteRange and Compact on
/// every range they touch. Every write is proposed under a request ID the range
/// de-duplicates, so retries after a timeout never apply twice.
extension Router: EtcdKVBackend {
    public func put(_ request: PutRequest) async throws -> PutResponse {
        try RequestValidation.check(request)
        let grants = request.lease != 0 ? [try await liveGrant(request.lease)] : []
        let access = self.access
        let body = Self.naming(grants, .put(request))
        let piece: Piece<CommandResult>
        do {
            piece = try await onOneRange([.point(request.key)]) { route, _, node, id throws(ProposalError) in
                try await access.propose(body, range: route.descriptor.rangeID, epoch: route.descriptor.epoch,
                                         requestID: id, on: node)
            }
        } catch EtcdError.timeout {
            recheckLeasesLater(grants, spans: [.point(request.key)])
            throw EtcdError.timeout
        } catch MVCCError.leaseNotFound {
            throw EtcdError.leaseNotFound  // the range had recorded the lease's revoke
        }
        guard case .put(let resp) = piece.value else { throw Self.unexpected(piece.value) }
        saw(resp.revision)
        if !grants.isEmpty { await sweepIfRevoked(grants, spans: [.point(request.key)]) }
        return resp
    }

    public func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        try RequestValidation.check(request)
        let span = KeySpan(key: request.key, rangeEnd: request.rangeEnd)
        let access = self.access
        let pieces = try await fanOut(span) { route, part, node, id throws(ProposalError) in
            var sub = request
            if part != span {
                sub.key = part.start
                sub.rangeEnd = part.etcdRangeEnd
            }
            return try await access.propose(.deleteRange(sub), range: route.descriptor.rangeID,
                                            epoch: route.descriptor.epoch, requestID: id, on: node)
        }
        var out = DeleteRangeResponse(revision: 0)
        for p in pieces {
            guard case .deleteRange(let r) = p.value else { throw Self.unexpected(p.value) }
            out.revision = max(out.revision, r.revision)
            out.deleted += r.deleted
            out.prevKVs += r.prevKVs
        }
        saw(out.revision)
        return out
    }

    public func txn(_ request: TxnRequest) async throws -> TxnResponse {
        try RequestValidation.check(request)
        var grants: [LeaseGrant] = []
        for lease in Set(TxnFootprint.putLeases(of: request)).sorted() { grants.append(try await liveGrant(lease)) }
        var spans = TxnFootprint.spans(of: request)
        if spans.isEmpty { spans = [.point([0])] }
        let access = self.access
        let body = Self.naming(grants, .txn(request))
        let piece: Piece<CommandResult>
        do {
            piece = try await onOneRange(spans) { route, _, node, id throws(ProposalError) in
                try await access.propose(body, range: route.descriptor.rangeID, epoch: route.descriptor.epoch,
                                         requestID: id, on: node)
            }
        } catch EtcdError.timeout {
            recheckLeasesLater(grants, spans: spans)
            throw EtcdError.timeout
        } catch MVCCError.leaseNotFound {
            throw EtcdError.leaseNotFound  // the range had recorded a lease's revoke
        }
        guard case .txn(let resp) = piece.value else { throw Self.unexpected(piece.value) }
        saw(resp.revision)
        if !grants.isEmpty { await sweepIfRevoked(grants, spans: spans) }
        return resp
    }

    /// Compacts every range at `revision`. The ranges check the compacted revision; the
    /// router checks the future one. Waits for every range, so `physical` always holds.
    /// When some ranges were already compacted at `revision` (a retry after a partial
    /// failure) and others were not, the call succeeds; when all were, it is etcd's
    /// "compacted" error.
    public func compact(revision: Int64, physical: Bool) async throws -> CompactResponse {
        try await checkNotFuture(revision)
        let access = self.access
        let pieces = try await fanOut(.all) { route, _, node, id throws(ProposalError) -> CommandResult? in
            do throws(ProposalError) {
                return try await access.propose(.compact(revision: revision), range: route.descriptor.rangeID,
                                                epoch: route.descriptor.epoch, requestID: id, on: node)
            } catch .rejected(.compacted) {
                return nil
            }
        }
        var header: Int64 = 0
        var applied = 0
        for p in pieces {
            guard let v = p.value else { continue }
            guard case .compact(let r) = v else { throw Self.unexpected(v) }
            header = max(header, r.revision)
            applied += 1
        }
        if applied == 0 { throw MVCCError.compacted }
        saw(header)
        return CompactResponse(revision: max(header, try await headerRevision()))
    }

    /// The grant of lease `id` (etcd's "requested lease not found" unless it is live).
    func liveGrant(_ id: Int64) async throws -> LeaseGrant {
        guard let record = try await access.leaseLookup(id: id) else { throw EtcdError.leaseNotFound }
        return LeaseGrant(lease: id, grantRevision: record.grantRevision)
    }

    /// `body` naming `grants` (`RaftCommand.Body.granted`), so the range refuses an attach
    /// of a grant it saw revoked; unchanged when no grant revision is known (an older node
    /// answered the lookup).
    static func naming(_ grants: [LeaseGrant], _ body: RaftCommand.Body) -> RaftCommand.Body {
        let known = grants.filter { $0.grantRevision > 0 }
        return known.isEmpty ? body : .granted(known, body)
    }

    static func unexpected(_ r: CommandResult?) -> any Error {
        RouterError.unexpectedResult(String(describing: r))
    }
}

/// Failures of the router itself (a node answering with the wrong kind of result); the
/// services report them as `Unknown`.
public enum RouterError: Error, Sendable, Equatable, CustomStringConvertible {
    case unexpectedResult(String)

    public var description: String {
        switch self {
        case .unexpectedResult(let r): "flotilla: router: unexpected command result \(r)"
        }
    }
}
