/// Plain values the backend protocols answer with (the services turn them into protobuf).

/// Who answers: filled into every `ResponseHeader` next to the revision.
public struct ClusterIdentity: Equatable, Sendable {
    public var clusterID: UInt64
    public var memberID: UInt64
    public var raftTerm: UInt64

    public init(clusterID: UInt64, memberID: UInt64, raftTerm: UInt64) {
        self.clusterID = clusterID
        self.memberID = memberID
        self.raftTerm = raftTerm
    }
}

/// One member as etcd's `Member` message describes it.
public struct MemberInfo: Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var peerURLs: [String]
    public var clientURLs: [String]
    public var isLearner: Bool

    public init(id: UInt64, name: String, peerURLs: [String], clientURLs: [String], isLearner: Bool = false) {
        self.id = id
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
        self.isLearner = isLearner
    }
}

/// etcd's `StatusResponse` without the header identity.
public struct StatusInfo: Equatable, Sendable {
    public var version: String
    public var dbSize: Int64
    public var dbSizeInUse: Int64
    public var leader: UInt64
    public var raftIndex: UInt64
    public var raftTerm: UInt64
    public var raftAppliedIndex: UInt64
    public var errors: [String]
    public var isLearner: Bool
    /// Header revision.
    public var revision: Int64

    public init(
        version: String, dbSize: Int64, dbSizeInUse: Int64, leader: UInt64, raftIndex: UInt64, raftTerm: UInt64,
        raftAppliedIndex: UInt64, errors: [String] = [], isLearner: Bool = false, revision: Int64
    ) {
        self.version = version
        self.dbSize = dbSize
        self.dbSizeInUse = dbSizeInUse
        self.leader = leader
        self.raftIndex = raftIndex
        self.raftTerm = raftTerm
        self.raftAppliedIndex = raftAppliedIndex
        self.errors = errors
        self.isLearner = isLearner
        self.revision = revision
    }
}

/// etcd's `AlarmRequest.AlarmAction`.
public enum AlarmAction: Equatable, Sendable { case get, activate, deactivate }

/// etcd's `AlarmType` (NONE is "every alarm" in a GET).
public enum AlarmKind: Int, Hashable, Sendable { case none = 0, noSpace = 1, corrupt = 2 }

/// One active alarm.
public struct AlarmInfo: Hashable, Sendable {
    public var memberID: UInt64
    public var alarm: AlarmKind

    public init(memberID: UInt64, alarm: AlarmKind) {
        self.memberID = memberID
        self.alarm = alarm
    }
}

/// etcd's `HashKVResponse` fields.
public struct HashKVResult: Equatable, Sendable {
    public var hash: UInt32
    public var compactRevision: Int64
    /// Header revision.
    public var revision: Int64

    public init(hash: UInt32, compactRevision: Int64, revision: Int64) {
        self.hash = hash
        self.compactRevision = compactRevision
        self.revision = revision
    }
}

/// A backup in chunks: `totalBytes` is the sum of the chunk sizes, or nil when the backend
/// streams content whose size it learns only at the end (it must then be self-delimiting:
/// see `SnapshotFraming`).
public struct SnapshotStream: Sendable {
    public var totalBytes: UInt64?
    public var chunks: AsyncThrowingStream<[UInt8], any Error>
    /// Header revision.
    public var revision: Int64

    public init(totalBytes: UInt64?, chunks: AsyncThrowingStream<[UInt8], any Error>, revision: Int64) {
        self.totalBytes = totalBytes
        self.chunks = chunks
        self.revision = revision
    }
}

/// etcd's `LeaseGrantResponse` fields.
public struct LeaseGrantResult: Equatable, Sendable {
    public var id: Int64
    /// The TTL granted (after raising to the minimum).
    public var ttl: Int64
    public var revision: Int64

    public init(id: Int64, ttl: Int64, revision: Int64) {
        self.id = id
        self.ttl = ttl
        self.revision = revision
    }
}

/// etcd's `LeaseKeepAliveResponse` fields; `ttl == 0` for an unknown or expired lease.
public struct LeaseKeepAliveResult: Equatable, Sendable {
    public var id: Int64
    public var ttl: Int64
    public var revision: Int64

    public init(id: Int64, ttl: Int64, revision: Int64) {
        self.id = id
        self.ttl = ttl
        self.revision = revision
    }
}

/// etcd's `LeaseTimeToLiveResponse` fields; `ttl == -1` for an unknown or expired lease.
public struct LeaseTimeToLiveResult: Equatable, Sendable {
    public var id: Int64
    public var ttl: Int64
    public var grantedTTL: Int64
    public var keys: [[UInt8]]
    public var revision: Int64

    public init(id: Int64, ttl: Int64, grantedTTL: Int64, keys: [[UInt8]], revision: Int64) {
        self.id = id
        self.ttl = ttl
        self.grantedTTL = grantedTTL
        self.keys = keys
        self.revision = revision
    }
}
