public import GRPCCore
public import Proto
import MVCC

/// etcd's `KV` service: validate → backend → map errors → header. No storage logic.
public struct KVService: Etcdserverpb_KV.SimpleServiceProtocol {
    let backend: any EtcdKVBackend
    let headers: ResponseHeaders
    let validator: RequestValidator

    public init(backend: any EtcdKVBackend, cluster: any EtcdClusterBackend, limits: EtcdLimits = EtcdLimits()) {
        self.backend = backend
        self.headers = ResponseHeaders(cluster: cluster)
        self.validator = RequestValidator(limits: limits)
    }

    public func range(request: Etcdserverpb_RangeRequest, context: ServerContext) async throws -> Etcdserverpb_RangeResponse {
        try await ErrorMapping.mapping {
            let r = KVConversion.range(request)
            try validator.check(r)
            let resp = try await backend.range(r)
            return KVConversion.rangeResponse(resp, header: headers.make(revision: resp.revision))
        }
    }

    public func put(request: Etcdserverpb_PutRequest, context: ServerContext) async throws -> Etcdserverpb_PutResponse {
        try await ErrorMapping.mapping {
            let p = KVConversion.put(request)
            try validator.check(p)
            let resp = try await backend.put(p)
            return KVConversion.putResponse(resp, header: headers.make(revision: resp.revision))
        }
    }

    public func deleteRange(
        request: Etcdserverpb_DeleteRangeRequest, context: ServerContext
    ) async throws -> Etcdserverpb_DeleteRangeResponse {
        try await ErrorMapping.mapping {
            let d = KVConversion.deleteRange(request)
            try validator.check(d)
            let resp = try await backend.deleteRange(d)
            return KVConversion.deleteRangeResponse(resp, header: headers.make(revision: resp.revision))
        }
    }

    public func txn(request: Etcdserverpb_TxnRequest, context: ServerContext) async throws -> Etcdserverpb_TxnResponse {
        try await ErrorMapping.mapping {
            let t = try KVConversion.txn(request)
            try validator.check(t)
            let resp = try await backend.txn(t)
            return KVConversion.txnResponse(resp, header: headers.make(revision: resp.revision))
        }
    }

    public func compact(
        request: Etcdserverpb_CompactionRequest, context: ServerContext
    ) async throws -> Etcdserverpb_CompactionResponse {
        try await ErrorMapping.mapping {
            let resp = try await backend.compact(revision: request.revision, physical: request.physical)
            var out = Etcdserverpb_CompactionResponse()
            out.header = headers.make(revision: resp.revision)
            return out
        }
    }
}
