/// Operations of the cluster serving path that a single etcd store has no need for: reads
/// at a global revision above the range's latest write, and deleting a list of keys at one
/// revision (lease revoke). Owns nothing beyond `MVCCStore`'s state.
extension MVCCStore {
    /// etcd's Range answered at a global revision `closedAt` the caller vouches for: no
    /// write of this range will take a revision `<= closedAt` that is not applied yet. The
    /// state is the one at `min(R, currentRevision)` where `R` is `request.revision` (or
    /// `closedAt` when 0); the response's revision is `closedAt`.
    ///
    /// Fails with `futureRevision` when `request.revision` exceeds both `closedAt` and the
    /// current revision, and with `compacted` when `R` is below the compacted revision.
    public func range(_ request: RangeRequest, closedAt: Int64) throws -> RangeResponse {
        try RequestValidation.check(request)
        return try withReadState(for: request) { s, rtx in
            let current = s.currentRevision
            let wanted = request.revision > 0 ? request.revision : closedAt
            if wanted > max(closedAt, current) { throw MVCCError.futureRevision }
            if wanted < s.compactedRevision { throw MVCCError.compacted }
            var r = request
            // Revision 0 reads the latest state; anything at or above it is the same state.
            r.revision = wanted >= current ? 0 : wanted
            var resp = try s.executeRange(r, current: current, rtx)
            resp.revision = closedAt
            return resp
        }
    }

    /// Deletes every listed key that is live in this range, all at main revision `revision`
    /// with increasing sub revisions in key order (duplicates count once; keys outside the
    /// range or not live are skipped). No cap on the number of keys — this is lease revoke,
    /// which etcd does as one revision whatever the lease holds. When nothing is deleted the
    /// revision is not consumed (as an empty DeleteRange); the response carries `revision`.
    public func deleteKeys(_ keys: [[UInt8]], revision: Int64) throws -> DeleteRangeResponse {
        let sorted = keys.sorted(by: Bytes.less)
        return try write(revision: revision) { s, ctx, _ in
            var deleted: Int64 = 0
            var last: [UInt8]?
            for key in sorted where key != last {
                last = key
                guard s.contains(key) else { continue }
                let before = ctx.changes
                s.applyDelete(key, &ctx)
                if ctx.changes > before { deleted += 1 }
            }
            return DeleteRangeResponse(revision: revision, deleted: deleted)
        }
    }
}
