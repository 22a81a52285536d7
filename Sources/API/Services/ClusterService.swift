public import GRPCCore
public import Proto

/// etcd's `Cluster` service: MemberList from the backend; membership changes are the
/// placement layer's (`flotctl`), so MemberAdd/Remove/Update/Promote answer Unimplemented.
public struct ClusterService: Etcdserverpb_Cluster.SimpleServiceProtocol {
    let backend: any EtcdClusterBackend
    let headers: ResponseHeaders

    public init(backend: any EtcdClusterBackend) {
        self.backend = backend
        self.headers = ResponseHeaders(cluster: backend)
    }

    public func memberList(
        request: Etcdserverpb_MemberListRequest, context: ServerContext
    ) async throws -> Etcdserverpb_MemberListResponse {
        try await ErrorMapping.mapping {
            let members = try await backend.memberList()
            var out = Etcdserverpb_MemberListResponse()
            out.header = headers.make(revision: 0)
            out.members = members.map { m in
                var p = Etcdserverpb_Member()
                p.id = m.id
                p.name = m.name
                p.peerUrls = m.peerURLs
                p.clientUrls = m.clientURLs
                p.isLearner = m.isLearner
                return p
            }
            return out
        }
    }

    public func memberAdd(
        request: Etcdserverpb_MemberAddRequest, context: ServerContext
    ) async throws -> Etcdserverpb_MemberAddResponse {
        throw ErrorMapping.rpcError(EtcdError.unimplemented("MemberAdd (use flotctl)"))
    }

    public func memberRemove(
        request: Etcdserverpb_MemberRemoveRequest, context: ServerContext
    ) async throws -> Etcdserverpb_MemberRemoveResponse {
        throw ErrorMapping.rpcError(EtcdError.unimplemented("MemberRemove (use flotctl)"))
    }

    public func memberUpdate(
        request: Etcdserverpb_MemberUpdateRequest, context: ServerContext
    ) async throws -> Etcdserverpb_MemberUpdateResponse {
        throw ErrorMapping.rpcError(EtcdError.unimplemented("MemberUpdate (use flotctl)"))
    }

    public func memberPromote(
        request: Etcdserverpb_MemberPromoteRequest, context: ServerContext
    ) async throws -> Etcdserverpb_MemberPromoteResponse {
        throw ErrorMapping.rpcError(EtcdError.unimplemented("MemberPromote (use flotctl)"))
    }
}
