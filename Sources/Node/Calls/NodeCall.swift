public import Base
public import MVCC

/// One request of the node call channel: everything the router's `ClusterAccess` (and the
/// node runtime itself) must run on another node. Value type; owns nothing.
///
/// Wire form: `[u8 tag]` then the fields, little-endian (`bytes` = u32 length + bytes),
/// no trailing bytes. Tags 0x10-0x3F; 0x01-0x0F are the node core's
/// (`NodeHost.handleCoreCall`). Bodies reuse `RaftCommand`'s codec, range requests
/// `CommandCoding`'s. Decoding refuses unknown tags, truncation and trailing bytes.
public enum NodeCall: Sendable, Equatable {
    /// `NodeHost.propose(_:to:epoch:requestID:)` on the range's leader.
    case propose(RaftCommand.Body, range: RangeID, epoch: RangeDescriptor.Epoch?, requestID: UInt64)
    /// `NodeHost.read(at:in:epoch:)` on the range's leader.
    case read(RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch?)
    /// `NodeHost.readFresh(_:in:epoch:)` on the range's leader (it takes the read point).
    case readFresh(RangeRequest, range: RangeID, epoch: RangeDescriptor.Epoch?)
    /// `NodeHost.localRead(_:in:)` on the receiving node's replica.
    case localRead(RangeRequest, range: RangeID)
    /// `NodeHost.nextFeedBatch` (a long poll of at most `waitMs`; `epoch` the route's, when
    /// known: a replica at another epoch answers `epochMismatch`).
    case nextFeedBatch(range: RangeID, epoch: RangeDescriptor.Epoch?, from: Int64, prevKV: Bool, maxEvents: Int, waitMs: Int)
    /// `NodeHost.freshRevision()`.
    case freshRevision
    /// `NodeHost.oracleRevisions(count:)` on the system range leader.
    case oracleRevisions(count: Int)
    /// `NodeHost.routingTable()`.
    case routingTable
    /// `NodeHost.resolvedRevision(of:)`.
    case resolvedRevision(range: RangeID)
    /// `NodeHost.closeForFollower(range:revision:)` on the range's leader (answers the
    /// leader's index the follower must apply before it may count `revision` resolved).
    case closeForFollower(range: RangeID, revision: Int64)
    /// `NodeHost.systemLeader()`: whom the receiving node believes leads the system range.
    case systemLeader
    /// The lease operations of `NodeHost+System.swift`, on the system range leader.
    case leaseGrant(id: Int64, ttl: Int64)
    case leaseLookup(id: Int64)
    case leaseKeepAlive(id: Int64)
    case leaseRemove(id: Int64)
    case leases
    case expiredLeases
    /// `NodeHost.leaseBeginRevoke(id:)`: mark the lease revoking (answered `.lease`).
    case leaseBeginRevoke(id: Int64)

    /// First and last tag of the cluster call codec.
    public static let tagRange: ClosedRange<UInt8> = 0x10...0x3F

    enum Tag: UInt8 {
        case propose = 0x10
        case read = 0x11
        case readFresh = 0x1A
        case localRead = 0x12
        case nextFeedBatch = 0x13
        case freshRevision = 0x14
        case oracleRevisions = 0x15
        case routingTable = 0x16
        case resolvedRevision = 0x17
        case closeForFollower = 0x18
        case systemLeader = 0x19
        case leaseGrant = 0x20
        case leaseLookup = 0x21
        case leaseKeepAlive = 0x22
        case leaseRemove = 0x23
        case leases = 0x24
        case expiredLeases = 0x25
        case leaseBeginRevoke = 0x26
    }

    /// A short name for logs and metrics.
    public var name: String {
        switch self {
        case .propose: "propose"
        case .read: "read"
        case .readFresh: "readFresh"
        case .localRead: "localRead"
        case .nextFeedBatch: "nextFeedBatch"
        case .freshRevision: "freshRevision"
        case .oracleRevisions: "oracleRevisions"
        case .routingTable: "routingTable"
        case .resolvedRevision: "resolvedRevision"
        case .closeForFollower: "closeForFollower"
        case .systemLeader: "systemLeader"
        case .leaseGrant: "leaseGrant"
        case .leaseLookup: "leaseLookup"
        case .leaseKeepAlive: "leaseKeepAlive"
        case .leaseRemove: "leaseRemove"
        case .leases: "leases"
        case .expiredLeases: "expiredLeases"
        case .leaseBeginRevoke: "leaseBeginRevoke"
        }
    }

    // MARK: encoding

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 32)
        switch self {
        case .propose(let body, let range, let epoch, let requestID):
            w.write(Tag.propose.rawValue)
            w.write(range.rawValue)
            CallCoding.write(epoch, &w)
            // The body travels as a whole RaftCommand (its codec carries version and kind).
            let command = RaftCommand(requestID: requestID, epoch: epoch ?? .init(), body: body)
            w.writeLengthPrefixed(command.encoded())
        case .read(let request, let range, let epoch):
            w.write(Tag.read.rawValue)
            w.write(range.rawValue)
            CallCoding.write(epoch, &w)
            CommandCoding.write(request, &w)
        case .readFresh(let request, let range, let epoch):
            w.write(Tag.readFresh.rawValue)
            w.write(range.rawValue)
            CallCoding.write(epoch, &w)
            CommandCoding.write(request, &w)
        case .localRead(let request, let range):
            w.write(Tag.localRead.rawValue)
            w.write(range.rawValue)
            CommandCoding.write(request, &w)
        case .nextFeedBatch(let range, let epoch, let from, let prevKV, let maxEvents, let waitMs):
            w.write(Tag.nextFeedBatch.rawValue)
            w.write(range.rawValue)
            CallCoding.write(epoch, &w)
            w.write(from)
            w.write(UInt8(prevKV ? 1 : 0))
            w.write(UInt32(clamping: maxEvents))
            w.write(UInt32(clamping: waitMs))
        case .freshRevision:
            w.write(Tag.freshRevision.rawValue)
        case .oracleRevisions(let count):
            w.write(Tag.oracleRevisions.rawValue)
            w.write(UInt32(clamping: count))
        case .routingTable:
            w.write(Tag.routingTable.rawValue)
        case .resolvedRevision(let range):
            w.write(Tag.resolvedRevision.rawValue)
            w.write(range.rawValue)
        case .closeForFollower(let range, let revision):
            w.write(Tag.closeForFollower.rawValue)
            w.write(range.rawValue)
            w.write(revision)
        case .systemLeader:
            w.write(Tag.systemLeader.rawValue)
        case .leaseGrant(let id, let ttl):
            w.write(Tag.leaseGrant.rawValue)
            w.write(id)
            w.write(ttl)
        case .leaseLookup(let id):
            w.write(Tag.leaseLookup.rawValue)
            w.write(id)
        case .leaseKeepAlive(let id):
            w.write(Tag.leaseKeepAlive.rawValue)
            w.write(id)
        case .leaseRemove(let id):
            w.write(Tag.leaseRemove.rawValue)
            w.write(id)
        case .leases:
            w.write(Tag.leases.rawValue)
        case .expiredLeases:
            w.write(Tag.expiredLeases.rawValue)
        case .leaseBeginRevoke(let id):
            w.write(Tag.leaseBeginRevoke.rawValue)
            w.write(id)
        }
        return w.bytes
    }

    // MARK: decoding

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> NodeCall {
        try CallCoding.decodeWhole(bytes) { (r: inout BinaryReader) throws(DecodingError) -> NodeCall in
            let raw = try r.read(UInt8.self)
            guard let tag = Tag(rawValue: raw) else { throw DecodingError("unknown node call tag \(raw)", offset: 0) }
            switch tag {
            case .propose:
                let range = RangeID(try r.read(UInt64.self))
                let epoch = try CallCoding.readEpoch(&r)
                let command = try RaftCommand.decode(try r.readLengthPrefixed())
                return .propose(command.body, range: range, epoch: epoch, requestID: command.requestID)
            case .read:
                let range = RangeID(try r.read(UInt64.self))
                let epoch = try CallCoding.readEpoch(&r)
                return .read(try CommandCoding.readRange(&r), range: range, epoch: epoch)
            case .readFresh:
                let range = RangeID(try r.read(UInt64.self))
                let epoch = try CallCoding.readEpoch(&r)
                return .readFresh(try CommandCoding.readRange(&r), range: range, epoch: epoch)
            case .localRead:
                let range = RangeID(try r.read(UInt64.self))
                return .localRead(try CommandCoding.readRange(&r), range: range)
            case .nextFeedBatch:
                let range = RangeID(try r.read(UInt64.self))
                let epoch = try CallCoding.readEpoch(&r)
                let from = try r.read(Int64.self)
                let prevKV = try CallCoding.readBool(&r)
                let maxEvents = Int(try r.read(UInt32.self))
                let waitMs = Int(try r.read(UInt32.self))
                return .nextFeedBatch(range: range, epoch: epoch, from: from, prevKV: prevKV, maxEvents: maxEvents, waitMs: waitMs)
            case .freshRevision:
                return .freshRevision
            case .oracleRevisions:
                return .oracleRevisions(count: Int(try r.read(UInt32.self)))
            case .routingTable:
                return .routingTable
            case .resolvedRevision:
                return .resolvedRevision(range: RangeID(try r.read(UInt64.self)))
            case .closeForFollower:
                let range = RangeID(try r.read(UInt64.self))
                return .closeForFollower(range: range, revision: try r.read(Int64.self))
            case .systemLeader:
                return .systemLeader
            case .leaseGrant:
                let id = try r.read(Int64.self)
                return .leaseGrant(id: id, ttl: try r.read(Int64.self))
            case .leaseLookup:
                return .leaseLookup(id: try r.read(Int64.self))
            case .leaseKeepAlive:
                return .leaseKeepAlive(id: try r.read(Int64.self))
            case .leaseRemove:
                return .leaseRemove(id: try r.read(Int64.self))
            case .leases:
                return .leases
            case .expiredLeases:
                return .expiredLeases
            case .leaseBeginRevoke:
                return .leaseBeginRevoke(id: try r.read(Int64.self))
            }
        }
    }
}
