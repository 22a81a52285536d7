public import Base
public import MVCC

/// One answer of the node call channel, matching the `NodeCall` it answers. Value type;
/// owns nothing. Errors travel as `.failure(ProposalError)`: a call never fails silently.
///
/// Wire form: `[u8 kind]` then the fields (see `CallCoding`), no trailing bytes.
public enum NodeCallAnswer: Sendable, Equatable {
    case failure(ProposalError)
    /// propose
    case result(CommandResult)
    /// read, localRead
    case range(RangeResponse)
    /// nextFeedBatch
    case feed(RangeFeedItem)
    /// freshRevision
    case revision(Int64)
    /// oracleRevisions
    case revisions(ClosedRange<Int64>)
    /// routingTable
    case routes([RangeRoute])
    /// resolvedRevision
    case optionalRevision(Int64?)
    /// closeForFollower: the leader's index to wait for
    case index(UInt64)
    /// systemLeader
    case node(NodeID)
    /// leaseGrant (nil: the ID is live), leaseLookup, leaseKeepAlive
    case lease(LeaseRecord?)
    /// leaseRemove
    case removed(Bool)
    /// leases
    case leases([LeaseRecord])
    /// expiredLeases
    case leaseIDs([Int64])

    enum Kind: UInt8 {
        case failure = 0, result, range, feed, revision, revisions, routes, optionalRevision, index, node,
             lease, removed, leases, leaseIDs
    }

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 32)
        switch self {
        case .failure(let e):
            w.write(Kind.failure.rawValue)
            CallCoding.write(e, &w)
        case .result(let r):
            w.write(Kind.result.rawValue)
            CallCoding.write(r, &w)
        case .range(let r):
            w.write(Kind.range.rawValue)
            CallCoding.write(r, &w)
        case .feed(let item):
            w.write(Kind.feed.rawValue)
            CallCoding.write(item, &w)
        case .revision(let rev):
            w.write(Kind.revision.rawValue)
            w.write(rev)
        case .revisions(let span):
            w.write(Kind.revisions.rawValue)
            w.write(span.lowerBound)
            w.write(span.upperBound)
        case .routes(let routes):
            w.write(Kind.routes.rawValue)
            w.write(UInt32(routes.count))
            for route in routes {
                route.descriptor.encode(into: &w)
                w.write(route.leaderHint.rawValue)
            }
        case .optionalRevision(let rev):
            w.write(Kind.optionalRevision.rawValue)
            w.write(UInt8(rev == nil ? 0 : 1))
            if let rev { w.write(rev) }
        case .index(let i):
            w.write(Kind.index.rawValue)
            w.write(i)
        case .node(let n):
            w.write(Kind.node.rawValue)
            w.write(n.rawValue)
        case .lease(let record):
            w.write(Kind.lease.rawValue)
            w.write(UInt8(record == nil ? 0 : 1))
            if let record { CallCoding.write(record, &w) }
        case .removed(let b):
            w.write(Kind.removed.rawValue)
            w.write(UInt8(b ? 1 : 0))
        case .leases(let records):
            w.write(Kind.leases.rawValue)
            w.write(UInt32(records.count))
            for r in records { CallCoding.write(r, &w) }
        case .leaseIDs(let ids):
            w.write(Kind.leaseIDs.rawValue)
            w.write(UInt32(ids.count))
            for id in ids { w.write(id) }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> NodeCallAnswer {
        try CallCoding.decodeWhole(bytes) { (r: inout BinaryReader) throws(DecodingError) -> NodeCallAnswer in
            let raw = try r.read(UInt8.self)
            guard let kind = Kind(rawValue: raw) else { throw DecodingError("unknown answer kind \(raw)", offset: 0) }
            switch kind {
            case .failure: return .failure(try CallCoding.readProposalError(&r))
            case .result: return .result(try CallCoding.readCommandResult(&r))
            case .range: return .range(try CallCoding.readRangeResponse(&r))
            case .feed: return .feed(try CallCoding.readFeedItem(&r))
            case .revision: return .revision(try r.read(Int64.self))
            case .revisions:
                let lo = try r.read(Int64.self)
                let hi = try r.read(Int64.self)
                guard lo <= hi else { throw DecodingError("empty revision span \(lo)...\(hi)", offset: r.offset) }
                return .revisions(lo...hi)
            case .routes:
                let n = try CommandCoding.count(&r)
                var routes: [RangeRoute] = []
                for _ in 0..<n {
                    let d = try RangeDescriptor.decode(from: &r)
                    routes.append(RangeRoute(descriptor: d, leaderHint: NodeID(try r.read(UInt64.self))))
                }
                return .routes(routes)
            case .optionalRevision:
                return .optionalRevision(try CallCoding.readBool(&r) ? r.read(Int64.self) : nil)
            case .index: return .index(try r.read(UInt64.self))
            case .node: return .node(NodeID(try r.read(UInt64.self)))
            case .lease:
                return .lease(try CallCoding.readBool(&r) ? CallCoding.readLease(&r) : nil)
            case .removed: return .removed(try CallCoding.readBool(&r))
            case .leases:
                let n = try CommandCoding.count(&r)
                var records: [LeaseRecord] = []
                for _ in 0..<n { records.append(try CallCoding.readLease(&r)) }
                return .leases(records)
            case .leaseIDs:
                let n = try CommandCoding.count(&r)
                var ids: [Int64] = []
                for _ in 0..<n { ids.append(try r.read(Int64.self)) }
                return .leaseIDs(ids)
            }
        }
    }
}
