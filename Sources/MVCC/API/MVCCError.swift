/// The errors MVCC operations answer, with etcd's exact messages
/// (api/v3rpc/rpctypes/error.go, server/storage/mvcc) and the gRPC status code each maps
/// to. The API layer turns `grpcCode` + `message` into the gRPC status unchanged.
public enum MVCCError: Error, Equatable, Sendable, CustomStringConvertible {
    case compacted
    case futureRevision
    case duplicateKey
    case tooManyOperations
    case emptyKey
    case valueProvided
    case leaseProvided
    case keyNotFound
    case invalidSortOption
    /// A put attaching a lease the range knows to be revoked (its revoke record, kept by
    /// the Node layer, refused the attach at apply).
    case leaseNotFound
    /// A put of a key longer than the node file stores (`RequestValidation.maxKeySize`,
    /// 974 bytes for a key without 0x00 bytes). etcd has no such limit below its request
    /// size limit; the API answers InvalidArgument.
    case keyTooLarge(size: Int, max: Int)
    /// A write whose main revision is not above the range's current revision (a stale
    /// proposal after a leader change); the proposer retries with a fresh revision.
    case revisionNotIncreasing(given: Int64, current: Int64)
    /// A write of a key outside the range's bounds (the router sent it to the wrong range).
    case keyOutsideRange
    /// A snapshot stream that is malformed or fails its checksum.
    case corruptSnapshot(String)
    /// A range's metadata is missing or malformed in the file.
    case corruptMetadata(String)

    /// gRPC status code names (as in `google.golang.org/grpc/codes`).
    public enum GRPCCode: String, Sendable {
        case invalidArgument = "InvalidArgument"
        case outOfRange = "OutOfRange"
        case notFound = "NotFound"
        case failedPrecondition = "FailedPrecondition"
        case aborted = "Aborted"
        case dataLoss = "DataLoss"
    }

    /// etcd's message for the error, byte for byte where etcd has one.
    public var message: String {
        switch self {
        case .compacted: "etcdserver: mvcc: required revision has been compacted"
        case .futureRevision: "etcdserver: mvcc: required revision is a future revision"
        case .duplicateKey: "etcdserver: duplicate key given in txn request"
        case .tooManyOperations: "etcdserver: too many operations in txn request"
        case .emptyKey: "etcdserver: key is not provided"
        case .valueProvided: "etcdserver: value is provided"
        case .leaseProvided: "etcdserver: lease is provided"
        case .keyNotFound: "etcdserver: key not found"
        case .invalidSortOption: "etcdserver: invalid sort option"
        case .leaseNotFound: "etcdserver: requested lease not found"
        case .keyTooLarge(let size, let max): "flotilla: mvcc: key of \(size) bytes is longer than the maximum \(max)"
        case .revisionNotIncreasing(let given, let current):
            "flotilla: mvcc: revision \(given) is not above the current revision \(current)"
        case .keyOutsideRange: "flotilla: mvcc: key is outside the range"
        case .corruptSnapshot(let why): "flotilla: mvcc: corrupt snapshot: \(why)"
        case .corruptMetadata(let why): "flotilla: mvcc: corrupt range metadata: \(why)"
        }
    }

    public var grpcCode: GRPCCode {
        switch self {
        case .compacted, .futureRevision: .outOfRange
        case .duplicateKey, .tooManyOperations, .emptyKey, .valueProvided, .leaseProvided,
            .keyNotFound, .invalidSortOption, .keyTooLarge:
            .invalidArgument
        case .leaseNotFound: .notFound
        case .revisionNotIncreasing: .aborted
        case .keyOutsideRange: .failedPrecondition
        case .corruptSnapshot, .corruptMetadata: .dataLoss
        }
    }

    public var description: String { "\(grpcCode.rawValue): \(message)" }
}
