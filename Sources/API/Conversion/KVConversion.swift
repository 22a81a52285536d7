import Foundation
import MVCC
import Proto

/// Conversions between the generated etcd protobuf messages and MVCC's request/response
/// structs. Pure functions; unknown enum values are kept so validation can refuse them.
enum KVConversion {
    // MARK: requests (protobuf → MVCC)

    static func range(_ r: Etcdserverpb_RangeRequest) -> RangeRequest {
        RangeRequest(
            key: [UInt8](r.key), rangeEnd: [UInt8](r.rangeEnd), limit: r.limit, revision: r.revision,
            sortOrder: sortOrder(r.sortOrder), sortTarget: sortTarget(r.sortTarget), serializable: r.serializable,
            keysOnly: r.keysOnly, countOnly: r.countOnly, minModRevision: r.minModRevision,
            maxModRevision: r.maxModRevision, minCreateRevision: r.minCreateRevision,
            maxCreateRevision: r.maxCreateRevision)
    }

    static func sortOrder(_ o: Etcdserverpb_RangeRequest.SortOrder) -> RangeRequest.SortOrder {
        switch o {
        case .none: .none
        case .ascend: .ascend
        case .descend: .descend
        case .UNRECOGNIZED(let v): .unrecognized(v)
        }
    }

    static func sortTarget(_ t: Etcdserverpb_RangeRequest.SortTarget) -> RangeRequest.SortTarget {
        switch t {
        case .key: .key
        case .version: .version
        case .create: .create
        case .mod: .mod
        case .value: .value
        case .UNRECOGNIZED(let v): .unrecognized(v)
        }
    }

    static func put(_ p: Etcdserverpb_PutRequest) -> PutRequest {
        PutRequest(
            key: [UInt8](p.key), value: [UInt8](p.value), lease: p.lease, prevKV: p.prevKv,
            ignoreValue: p.ignoreValue, ignoreLease: p.ignoreLease)
    }

    static func deleteRange(_ d: Etcdserverpb_DeleteRangeRequest) -> DeleteRangeRequest {
        DeleteRangeRequest(key: [UInt8](d.key), rangeEnd: [UInt8](d.rangeEnd), prevKV: d.prevKv)
    }

    /// A compare whose result or target is unknown answers `nil` (etcd treats an unknown
    /// compare as failing; the caller refuses it as an invalid argument).
    static func compare(_ c: Etcdserverpb_Compare) -> Compare? {
        let result: Compare.Result
        switch c.result {
        case .equal: result = .equal
        case .greater: result = .greater
        case .less: result = .less
        case .notEqual: result = .notEqual
        case .UNRECOGNIZED: return nil
        }
        let target: Compare.Target
        switch c.target {
        case .version: target = .version(c.version)
        case .create: target = .create(c.createRevision)
        case .mod: target = .mod(c.modRevision)
        case .value: target = .value([UInt8](c.value))
        case .lease: target = .lease(c.lease)
        case .UNRECOGNIZED: return nil
        }
        return Compare(key: [UInt8](c.key), rangeEnd: [UInt8](c.rangeEnd), target: target, result: result)
    }

    static func requestOp(_ op: Etcdserverpb_RequestOp) throws -> RequestOp {
        switch op.request {
        case .requestRange(let r): .range(range(r))
        case .requestPut(let p): .put(put(p))
        case .requestDeleteRange(let d): .deleteRange(deleteRange(d))
        case .requestTxn(let t): .txn(try txn(t))
        case nil: .empty
        }
    }

    static func txn(_ t: Etcdserverpb_TxnRequest) throws -> TxnRequest {
        var compares: [Compare] = []
        compares.reserveCapacity(t.compare.count)
        for c in t.compare {
            guard let converted = compare(c) else { throw EtcdError.unimplemented("unknown compare result or target") }
            compares.append(converted)
        }
        return TxnRequest(
            compare: compares, success: try t.success.map(requestOp), failure: try t.failure.map(requestOp))
    }

    // MARK: responses (MVCC → protobuf)

    static func keyValue(_ kv: KeyValue) -> Mvccpb_KeyValue {
        var out = Mvccpb_KeyValue()
        out.key = Data(kv.key)
        out.createRevision = kv.createRevision
        out.modRevision = kv.modRevision
        out.version = kv.version
        out.value = Data(kv.value)
        out.lease = kv.lease
        return out
    }

    static func rangeResponse(_ r: RangeResponse, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_RangeResponse {
        var out = Etcdserverpb_RangeResponse()
        out.header = header
        out.kvs = r.kvs.map(keyValue)
        out.more = r.more
        out.count = r.count
        return out
    }

    static func putResponse(_ r: PutResponse, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_PutResponse {
        var out = Etcdserverpb_PutResponse()
        out.header = header
        if let prev = r.prevKV { out.prevKv = keyValue(prev) }
        return out
    }

    static func deleteRangeResponse(
        _ r: DeleteRangeResponse, header: Etcdserverpb_ResponseHeader
    ) -> Etcdserverpb_DeleteRangeResponse {
        var out = Etcdserverpb_DeleteRangeResponse()
        out.header = header
        out.deleted = r.deleted
        out.prevKvs = r.prevKVs.map(keyValue)
        return out
    }

    /// Nested responses carry an empty header, as etcd's applier leaves them; only the
    /// top-level header is filled.
    static func txnResponse(_ r: TxnResponse, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_TxnResponse {
        var out = Etcdserverpb_TxnResponse()
        out.header = header
        out.succeeded = r.succeeded
        let empty = Etcdserverpb_ResponseHeader()
        out.responses = r.responses.map { op in
            var o = Etcdserverpb_ResponseOp()
            switch op {
            case .range(let x): o.responseRange = rangeResponse(x, header: empty)
            case .put(let x): o.responsePut = putResponse(x, header: empty)
            case .deleteRange(let x): o.responseDeleteRange = deleteRangeResponse(x, header: empty)
            case .txn(let x): o.responseTxn = txnResponse(x, header: empty)
            }
            return o
        }
        return out
    }

    static func event(_ e: WatchEvent) -> Mvccpb_Event {
        var out = Mvccpb_Event()
        out.type = e.kind == .put ? .put : .delete
        out.kv = keyValue(e.kv)
        if let prev = e.prevKV { out.prevKv = keyValue(prev) }
        return out
    }
}
