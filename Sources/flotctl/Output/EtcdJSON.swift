import Foundation
import Proto

/// The JSON shapes etcdctl 3.4 prints with `-w json`: Go's `encoding/json` over clientv3's
/// response structs, so snake_case protobuf field names with `omitempty`, base64 byte
/// strings, and for some verbs the header flattened into the top level (clientv3 embeds
/// `*ResponseHeader`). Pure functions from responses to `JSONValue`.
enum EtcdJSON {
    static func header(_ h: Etcdserverpb_ResponseHeader) -> JSONValue {
        var o = JSONObject()
        flatHeader(h, into: &o)
        return o.value
    }

    /// The header's fields as members of an enclosing object (Go struct embedding).
    static func flatHeader(_ h: Etcdserverpb_ResponseHeader, into o: inout JSONObject) {
        o.omitEmpty("cluster_id", h.clusterID)
        o.omitEmpty("member_id", h.memberID)
        o.omitEmpty("revision", h.revision)
        o.omitEmpty("raft_term", h.raftTerm)
    }

    static func kv(_ kv: Mvccpb_KeyValue) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("key", bytes: kv.key)
        o.omitEmpty("create_revision", kv.createRevision)
        o.omitEmpty("mod_revision", kv.modRevision)
        o.omitEmpty("version", kv.version)
        o.omitEmpty("value", bytes: kv.value)
        o.omitEmpty("lease", kv.lease)
        return o.value
    }

    static func range(_ r: Etcdserverpb_RangeResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", r.hasHeader ? header(r.header) : nil)
        o.omitEmpty("kvs", r.kvs.map(kv))
        o.omitEmpty("more", r.more)
        o.omitEmpty("count", r.count)
        return o.value
    }

    static func put(_ r: Etcdserverpb_PutResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", r.hasHeader ? header(r.header) : nil)
        o.omitEmpty("prev_kv", r.hasPrevKv ? kv(r.prevKv) : nil)
        return o.value
    }

    static func delete(_ r: Etcdserverpb_DeleteRangeResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", r.hasHeader ? header(r.header) : nil)
        o.omitEmpty("deleted", r.deleted)
        o.omitEmpty("prev_kvs", r.prevKvs.map(kv))
        return o.value
    }

    static func txn(_ r: Etcdserverpb_TxnResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", r.hasHeader ? header(r.header) : nil)
        o.omitEmpty("succeeded", r.succeeded)
        o.omitEmpty("responses", r.responses.map(responseOp))
        return o.value
    }

    static func responseOp(_ op: Etcdserverpb_ResponseOp) -> JSONValue {
        let inner: (String, JSONValue)
        switch op.response {
        case .responseRange(let r): inner = ("ResponseRange", range(r))
        case .responsePut(let r): inner = ("ResponsePut", put(r))
        case .responseDeleteRange(let r): inner = ("ResponseDeleteRange", delete(r))
        case .responseTxn(let r): inner = ("ResponseTxn", txn(r))
        case nil: return .object([])
        }
        return .object([("Response", .object([inner]))])
    }

    static func event(_ e: Mvccpb_Event) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("type", e.type.rawValue)
        o.omitEmpty("kv", e.hasKv ? kv(e.kv) : nil)
        o.omitEmpty("prev_kv", e.hasPrevKv ? kv(e.prevKv) : nil)
        return o.value
    }

    /// clientv3's `WatchResponse` struct (exported Go field names, no omitempty).
    static func watch(_ r: Etcdserverpb_WatchResponse) -> JSONValue {
        .object([
            ("Header", header(r.header)),
            ("Events", r.events.isEmpty ? .null : .array(r.events.map(event))),
            ("CompactRevision", .int(r.compactRevision)),
            ("Canceled", .bool(r.canceled)),
            ("Created", .bool(r.created)),
        ])
    }

    static func leaseGrant(_ r: Etcdserverpb_LeaseGrantResponse) -> JSONValue {
        var o = JSONObject()
        flatHeader(r.header, into: &o)
        o.always("ID", .int(r.id))
        o.always("TTL", .int(r.ttl))
        o.always("Error", .string(r.error))
        return o.value
    }

    static func leaseRevoke(_ r: Etcdserverpb_LeaseRevokeResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", r.hasHeader ? header(r.header) : nil)
        return o.value
    }

    static func leaseTimeToLive(_ r: Etcdserverpb_LeaseTimeToLiveResponse) -> JSONValue {
        var o = JSONObject()
        flatHeader(r.header, into: &o)
        o.always("id", .int(r.id))
        o.always("ttl", .int(r.ttl))
        o.always("granted-ttl", .int(r.grantedTtl))
        o.always("keys", r.keys.isEmpty ? .null : .array(r.keys.map(JSONValue.bytes)))
        return o.value
    }

    static func leaseKeepAlive(_ r: Etcdserverpb_LeaseKeepAliveResponse) -> JSONValue {
        var o = JSONObject()
        flatHeader(r.header, into: &o)
        o.always("ID", .int(r.id))
        o.always("TTL", .int(r.ttl))
        return o.value
    }

    static func leaseLeases(_ r: Etcdserverpb_LeaseLeasesResponse) -> JSONValue {
        var o = JSONObject()
        flatHeader(r.header, into: &o)
        o.always("leases", r.leases.isEmpty ? .null : .array(r.leases.map { .object([("id", .int($0.id))]) }))
        return o.value
    }

    static func member(_ m: Etcdserverpb_Member) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("ID", m.id)
        o.omitEmpty("name", m.name)
        o.omitEmpty("peerURLs", m.peerUrls.map { .string($0) })
        o.omitEmpty("clientURLs", m.clientUrls.map { .string($0) })
        o.omitEmpty("isLearner", m.isLearner)
        return o.value
    }

    static func memberList(_ r: Etcdserverpb_MemberListResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", r.hasHeader ? header(r.header) : nil)
        o.omitEmpty("members", r.members.map(member))
        return o.value
    }

    static func status(_ s: Etcdserverpb_StatusResponse) -> JSONValue {
        var o = JSONObject()
        o.omitEmpty("header", s.hasHeader ? header(s.header) : nil)
        o.omitEmpty("version", s.version)
        o.omitEmpty("dbSize", s.dbSize)
        o.omitEmpty("leader", s.leader)
        o.omitEmpty("raftIndex", s.raftIndex)
        o.omitEmpty("raftTerm", s.raftTerm)
        o.omitEmpty("raftAppliedIndex", s.raftAppliedIndex)
        o.omitEmpty("errors", s.errors.map { .string($0) })
        o.omitEmpty("dbSizeInUse", s.dbSizeInUse)
        o.omitEmpty("isLearner", s.isLearner)
        return o.value
    }

    static func endpointStatus(_ rows: [(endpoint: String, status: Etcdserverpb_StatusResponse)]) -> JSONValue {
        .array(rows.map { .object([("Endpoint", .string($0.endpoint)), ("Status", status($0.status))]) })
    }
}
