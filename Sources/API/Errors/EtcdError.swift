/// etcd server errors that are not MVCC's (api/v3rpc/rpctypes/error.go), with etcd's exact
/// messages and gRPC codes. Backends and services throw these; `ErrorMapping` turns them
/// into gRPC statuses.
public enum EtcdError: Error, Equatable, Sendable, CustomStringConvertible {
    case requestTooLarge
    case leaseNotFound
    case leaseExists
    case leaseTTLTooLarge
    case noSpace
    case tooManyRequests
    case noLeader
    case timeout
    case leaderChanged
    case invalidAuthToken
    case permissionDenied
    case corrupt
    case unimplemented(String)
    /// A txn whose keys lie in more than one range (Flotilla: no cross-range transactions
    /// yet); carries the range IDs, answered as `FailedPrecondition`.
    case txnSpansRanges([UInt64])

    public var message: String {
        switch self {
        case .requestTooLarge: "etcdserver: request is too large"
        case .leaseNotFound: "etcdserver: requested lease not found"
        case .leaseExists: "etcdserver: lease already exists"
        case .leaseTTLTooLarge: "etcdserver: too large lease TTL"
        case .noSpace: "etcdserver: mvcc: database space exceeded"
        case .tooManyRequests: "etcdserver: too many requests"
        case .noLeader: "etcdserver: no leader"
        case .timeout: "etcdserver: request timed out"
        case .leaderChanged: "etcdserver: leader changed"
        case .invalidAuthToken: "etcdserver: invalid auth token"
        case .permissionDenied: "etcdserver: permission denied"
        case .corrupt: "etcdserver: corrupt cluster"
        case .unimplemented(let what): "flotilla: \(what) is not implemented"
        case .txnSpansRanges(let ids):
            "flotilla: txn spans ranges \(ids.map(String.init).joined(separator: ", ")); cross-range transactions are not supported"
        }
    }

    /// gRPC code names as in `google.golang.org/grpc/codes`.
    public var grpcCodeName: String {
        switch self {
        case .requestTooLarge: "InvalidArgument"
        case .leaseNotFound: "NotFound"
        case .leaseExists, .txnSpansRanges: "FailedPrecondition"
        case .leaseTTLTooLarge: "OutOfRange"
        case .noSpace, .tooManyRequests: "ResourceExhausted"
        case .noLeader, .timeout, .leaderChanged: "Unavailable"
        case .invalidAuthToken: "Unauthenticated"
        case .permissionDenied: "PermissionDenied"
        case .corrupt: "DataLoss"
        case .unimplemented: "Unimplemented"
        }
    }

    public var description: String { "\(grpcCodeName): \(message)" }
}
