public import API
import Base
public import MVCC
import Node

/// KV.Range over every range the key span touches, at one revision: linearizable reads
/// take a fresh revision from the oracle and read each range at it on its leader;
/// serializable reads use the local replicas (see `serializableRange`).
extension Router {
    public func range(_ request: RangeRequest) async throws -> RangeResponse {
        try RequestValidation.check(request)
        if request.serializable && request.revision <= 0,
            let local = try await serializableRange(request)
        {
            return local
        }
        let revision: Int64
        if request.revision > 0 {
            try await checkNotFuture(request.revision)
            revision = request.revision
        } else {
            if config.readPointOnLeader, let response = try await freshReadInOneRange(request) { return response }
            revision = try await fresh()
        }
        return try await linearizableRange(request, at: revision)
    }

    /// A linearizable read of a span inside one range, at a read point its leader takes
    /// (`ClusterAccess.readFresh`): one call where `fresh()` + `linearizableRange` make two
    /// when the leader is another node. Same guarantee: the leader fetches the revision after
    /// the request reached it, so after the read began. nil when the span covers several
    /// ranges (also after a split found while retrying): they must share one read point,
    /// which the caller then takes.
    func freshReadInOneRange(_ request: RangeRequest) async throws -> RangeResponse? {
        let span = KeySpan(key: request.key, rangeEnd: request.rangeEnd)
        if let parts = state.withLock({ $0.cache.plan(span) }), parts.count > 1 { return nil }
        let access = self.access
        let piece: Piece<RangeResponse>
        do {
            piece = try await onOneRange([span]) { route, part, node, _ throws(ProposalError) in
                let sub = Self.partRequest(request, span: span, part: part, revision: 0)
                return try await access.readFresh(sub, range: route.descriptor.rangeID, epoch: route.descriptor.epoch, on: node)
            }
        } catch EtcdError.txnSpansRanges {
            return nil
        }
        saw(piece.value.revision)
        return piece.value
    }

    /// Reads `request` at `revision` on the leaders of its ranges and merges.
    func linearizableRange(_ request: RangeRequest, at revision: Int64) async throws -> RangeResponse {
        let span = KeySpan(key: request.key, rangeEnd: request.rangeEnd)
        let access = self.access
        let pieces = try await fanOut(span) { route, part, node, _ throws(ProposalError) in
            let sub = Self.partRequest(request, span: span, part: part, revision: revision)
            return try await access.read(sub, range: route.descriptor.rangeID, epoch: route.descriptor.epoch, on: node)
        }
        if pieces.count == 1 {
            var r = pieces[0].value
            r.revision = revision
            return r
        }
        return RangeMerge.merge(request, parts: pieces.map(\.value), revision: revision)
    }

    /// A serializable read from the local replicas, or nil when some range has no local
    /// replica or anything goes wrong (the caller then reads linearizably). Each replica
    /// answers at its resolved revision; the answer's revision is the minimum M of those,
    /// and replicas that answered above M are read again at M, so the whole answer is one
    /// snapshot. The routing table is read before and after: if an epoch changed in
    /// between (a split), a replica may have answered for fewer keys, so the answer is
    /// dropped. Costs two `routes()` calls (local) per read.
    func serializableRange(_ request: RangeRequest) async throws -> RangeResponse? {
        let span = KeySpan(key: request.key, rangeEnd: request.rangeEnd)
        await refreshRoutes()
        let local = access.localNode
        guard let parts = state.withLock({ $0.cache.plan(span) }) else { return nil }
        for p in parts where p.route.descriptor.replica(on: local) == nil { return nil }
        let requests = parts.map { Self.partRequest(request, span: span, part: $0.span, revision: 0) }
        let ranges = parts.map { $0.route.descriptor.rangeID }
        var answers: [RangeResponse]
        do {
            answers = try await localReads(requests, ranges)
            let m = answers.map(\.revision).min() ?? 0
            for i in answers.indices where answers[i].revision > m {
                var again = requests[i]
                again.revision = m
                answers[i] = try await access.localRead(again, range: ranges[i])
            }
        } catch {
            if case .rejected(let m) = error { throw m }
            return nil
        }
        let after = (try? await access.routes()) ?? []
        for p in parts {
            let d = p.route.descriptor
            if !after.contains(where: { $0.descriptor.rangeID == d.rangeID && $0.descriptor.epoch == d.epoch }) {
                return nil
            }
        }
        let revision = answers.map(\.revision).min() ?? 0
        if answers.count == 1 { return answers[0] }
        return RangeMerge.merge(request, parts: answers, revision: revision)
    }

    /// `localRead` of each request on its range, in parallel; answers in request order.
    private func localReads(_ requests: [RangeRequest], _ ranges: [RangeID]) async throws(ProposalError) -> [RangeResponse] {
        let access = self.access
        let results = await withTaskGroup(of: (Int, Result<RangeResponse, ProposalError>).self) { group in
            for i in requests.indices {
                let req = requests[i]
                let range = ranges[i]
                group.addTask {
                    do throws(ProposalError) {
                        return (i, .success(try await access.localRead(req, range: range)))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            var out: [(Int, Result<RangeResponse, ProposalError>)] = []
            for await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return try results.map { r throws(ProposalError) in try r.get() }
    }

    /// The request for the part `part` of `span` (the request itself when it is the whole span).
    static func partRequest(_ request: RangeRequest, span: KeySpan, part: KeySpan, revision: Int64) -> RangeRequest {
        if part == span {
            var r = request
            r.revision = revision
            return r
        }
        return RangeMerge.subRequest(request, key: part.start, rangeEnd: part.etcdRangeEnd, revision: revision)
    }
}
