public import GRPCCore
import MVCC

/// Turns backend and validation errors into the gRPC status etcd would answer (same code,
/// same message, which clientv3 matches byte for byte). Owns no state.
public enum ErrorMapping {
    /// The `RPCError` for `error`: `MVCCError` and `EtcdError` map to etcd's code and
    /// message, an `RPCError` passes through, cancellation is `Cancelled`, anything else is
    /// `Unknown` with its description (etcd's `togRPCError` default).
    public static func rpcError(_ error: any Error) -> RPCError {
        switch error {
        case let e as RPCError: return e
        case let e as MVCCError: return RPCError(code: code(e.grpcCode), message: e.message)
        case let e as EtcdError: return RPCError(code: code(e), message: e.message)
        case is CancellationError: return RPCError(code: .cancelled, message: "context canceled")
        default: return RPCError(code: .unknown, message: String(describing: error))
        }
    }

    static func code(_ c: MVCCError.GRPCCode) -> RPCError.Code {
        switch c {
        case .invalidArgument: .invalidArgument
        case .outOfRange: .outOfRange
        case .notFound: .notFound
        case .failedPrecondition: .failedPrecondition
        case .aborted: .aborted
        case .dataLoss: .dataLoss
        }
    }

    static func code(_ e: EtcdError) -> RPCError.Code {
        switch e {
        case .requestTooLarge: .invalidArgument
        case .leaseNotFound: .notFound
        case .leaseExists, .txnSpansRanges: .failedPrecondition
        case .leaseTTLTooLarge: .outOfRange
        case .noSpace, .tooManyRequests: .resourceExhausted
        case .noLeader, .timeout, .leaderChanged: .unavailable
        case .invalidAuthToken: .unauthenticated
        case .permissionDenied: .permissionDenied
        case .corrupt: .dataLoss
        case .unimplemented: .unimplemented
        }
    }

    /// Runs `body`, rethrowing any error as etcd's gRPC status.
    static func mapping<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch {
            throw rpcError(error)
        }
    }
}
