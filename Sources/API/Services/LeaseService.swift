public import GRPCCore
public import Proto
import Foundation

/// etcd's `Lease` service: Grant, Revoke, TimeToLive, Leases and the bidirectional
/// KeepAlive stream (one response per request, in order). Validation and error mapping as
/// etcd's v3rpc `lease.go`.
public struct LeaseService: Etcdserverpb_Lease.SimpleServiceProtocol {
    let backend: any EtcdLeaseBackend
    let headers: ResponseHeaders
    let validator: RequestValidator

    public init(backend: any EtcdLeaseBackend, cluster: any EtcdClusterBackend, limits: EtcdLimits = EtcdLimits()) {
        self.backend = backend
        self.headers = ResponseHeaders(cluster: cluster)
        self.validator = RequestValidator(limits: limits)
    }

    public func leaseGrant(
        request: Etcdserverpb_LeaseGrantRequest, context: ServerContext
    ) async throws -> Etcdserverpb_LeaseGrantResponse {
        try await ErrorMapping.mapping {
            try validator.checkLeaseTTL(request.ttl)
            let r = try await backend.leaseGrant(id: request.id, ttl: request.ttl)
            var out = Etcdserverpb_LeaseGrantResponse()
            out.header = headers.make(revision: r.revision)
            out.id = r.id
            out.ttl = r.ttl
            return out
        }
    }

    public func leaseRevoke(
        request: Etcdserverpb_LeaseRevokeRequest, context: ServerContext
    ) async throws -> Etcdserverpb_LeaseRevokeResponse {
        try await ErrorMapping.mapping {
            let revision = try await backend.leaseRevoke(id: request.id)
            var out = Etcdserverpb_LeaseRevokeResponse()
            out.header = headers.make(revision: revision)
            return out
        }
    }

    public func leaseKeepAlive(
        request: RPCAsyncSequence<Etcdserverpb_LeaseKeepAliveRequest, any Error>,
        response: RPCWriter<Etcdserverpb_LeaseKeepAliveResponse>,
        context: ServerContext
    ) async throws {
        try await ErrorMapping.mapping {
            for try await req in request {
                let r = try await backend.leaseKeepAlive(id: req.id)
                var out = Etcdserverpb_LeaseKeepAliveResponse()
                out.header = headers.make(revision: r.revision)
                out.id = r.id
                out.ttl = r.ttl
                try await response.write(out)
            }
        }
    }

    public func leaseTimeToLive(
        request: Etcdserverpb_LeaseTimeToLiveRequest, context: ServerContext
    ) async throws -> Etcdserverpb_LeaseTimeToLiveResponse {
        try await ErrorMapping.mapping {
            let r = try await backend.leaseTimeToLive(id: request.id, keys: request.keys)
            var out = Etcdserverpb_LeaseTimeToLiveResponse()
            out.header = headers.make(revision: r.revision)
            out.id = r.id
            out.ttl = r.ttl
            out.grantedTtl = r.grantedTTL
            out.keys = r.keys.map { Data($0) }
            return out
        }
    }

    public func leaseLeases(
        request: Etcdserverpb_LeaseLeasesRequest, context: ServerContext
    ) async throws -> Etcdserverpb_LeaseLeasesResponse {
        try await ErrorMapping.mapping {
            let (ids, revision) = try await backend.leases()
            var out = Etcdserverpb_LeaseLeasesResponse()
            out.header = headers.make(revision: revision)
            out.leases = ids.map { id in
                var s = Etcdserverpb_LeaseStatus()
                s.id = id
                return s
            }
            return out
        }
    }
}
