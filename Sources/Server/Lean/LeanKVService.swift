import API
import GRPCCore
import NIOCore
import Proto
import SwiftProtobuf

/// etcd's unary KV methods (Range, Put, DeleteRange, Txn, Compact) on the lean HTTP/2 path:
/// decodes the protobuf request and calls the same `KVService` methods grpc-swift's KV
/// service runs (validate → backend → map errors → header), so there is one path and etcd's
/// codes and messages are unchanged; an `RPCError` becomes `grpc-status` / `grpc-message`.
/// Each call runs in one Swift task (the backend is async). Owns nothing but the service.
struct LeanKVService: LeanUnaryService {
    let kv: KVService

    enum Method: String, CaseIterable, Sendable {
        case range = "Range", put = "Put", deleteRange = "DeleteRange", txn = "Txn", compact = "Compact"
    }

    static let prefix = "/etcdserverpb.KV/"

    static func method(_ path: Substring) -> Method? {
        guard path.hasPrefix(prefix) else { return nil }
        return Method(rawValue: String(path.dropFirst(prefix.count)))
    }

    func serves(_ path: Substring) -> Bool { Self.method(path) != nil }

    func handle(_ call: LeanCall, respond: @escaping @Sendable (Result<ByteBuffer, LeanStatus>) -> Void) {
        let kv = self.kv
        Task { respond(await Self.answer(kv, call)) }
    }

    static func answer(_ kv: KVService, _ call: LeanCall) async -> Result<ByteBuffer, LeanStatus> {
        guard let method = method(call.path[...]) else { return .failure(.unimplemented("unknown method \(call.path)")) }
        let context = ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: "etcdserverpb.KV", method: method.rawValue),
            remotePeer: "", localPeer: "", cancellation: ServerContext.RPCCancellationHandle())
        let request = Array(call.message.readableBytesView)
        do {
            let reply: [UInt8]
            switch method {
            case .range:
                reply = try await kv.range(request: Etcdserverpb_RangeRequest(serializedBytes: request), context: context)
                    .serializedBytes()
            case .put:
                reply = try await kv.put(request: Etcdserverpb_PutRequest(serializedBytes: request), context: context)
                    .serializedBytes()
            case .deleteRange:
                reply = try await kv.deleteRange(request: Etcdserverpb_DeleteRangeRequest(serializedBytes: request),
                                                 context: context).serializedBytes()
            case .txn:
                reply = try await kv.txn(request: Etcdserverpb_TxnRequest(serializedBytes: request), context: context)
                    .serializedBytes()
            case .compact:
                reply = try await kv.compact(request: Etcdserverpb_CompactionRequest(serializedBytes: request),
                                             context: context).serializedBytes()
            }
            return .success(ByteBuffer(bytes: reply))
        } catch let error as SwiftProtobuf.BinaryDecodingError {
            return .failure(.internal("grpc: error unmarshalling request: \(error)"))
        } catch {
            let rpc = ErrorMapping.rpcError(error)
            return .failure(LeanStatus(code: rpc.code.rawValue, message: rpc.message))
        }
    }
}
