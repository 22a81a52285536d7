import Proto

/// Builds `ResponseHeader`s from the cluster backend's identity and a revision. Owns nothing.
struct ResponseHeaders: Sendable {
    let cluster: any EtcdClusterBackend

    func make(revision: Int64) -> Etcdserverpb_ResponseHeader {
        let id = cluster.identity()
        var h = Etcdserverpb_ResponseHeader()
        h.clusterID = id.clusterID
        h.memberID = id.memberID
        h.raftTerm = id.raftTerm
        h.revision = revision
        return h
    }
}
