public import Foundation
import GRPCCore
import Proto

/// Turns one `OpInput` into an etcd gRPC request on an endpoint and its response (or error)
/// into an `OpOutput`. Stateless.
public enum RequestExecutor {
    public static func execute(_ input: OpInput, on e: EtcdEndpoint, timeout: Duration) async -> OpOutput {
        let options = EtcdEndpoint.timeout(timeout)
        do {
            switch input {
            case .get(let key):
                var r = Etcdserverpb_RangeRequest()
                r.key = Data(key.utf8)
                let resp = try await e.kv.range(request: .init(message: r), options: options) { try $0.message }
                return .range(revision: resp.header.revision, kvs: resp.kvs.map(record))
            case .list(let prefix):
                var r = Etcdserverpb_RangeRequest()
                (r.key, r.rangeEnd) = prefixRange(prefix)
                let resp = try await e.kv.range(request: .init(message: r), options: options) { try $0.message }
                return .range(revision: resp.header.revision, kvs: resp.kvs.map(record).filter { !WorkloadConfig.isHarnessKey($0.key) })
            case .put(let key, let value, let lease):
                var r = Etcdserverpb_PutRequest()
                r.key = Data(key.utf8)
                r.value = Data(value.utf8)
                r.lease = lease
                let resp = try await e.kv.put(request: .init(message: r), options: options) { try $0.message }
                return .put(revision: resp.header.revision)
            case .delete(let key):
                var r = Etcdserverpb_DeleteRangeRequest()
                r.key = Data(key.utf8)
                let resp = try await e.kv.deleteRange(request: .init(message: r), options: options) { try $0.message }
                return .delete(revision: resp.header.revision, deleted: resp.deleted)
            case .compareAndSet(let key, let expected, let value):
                var t = Etcdserverpb_TxnRequest()
                var c = Etcdserverpb_Compare()
                c.key = Data(key.utf8)
                c.target = .mod
                c.result = .equal
                c.modRevision = expected
                t.compare = [c]
                var put = Etcdserverpb_RequestOp()
                put.requestPut.key = Data(key.utf8)
                put.requestPut.value = Data(value.utf8)
                var get = Etcdserverpb_RequestOp()
                get.requestRange.key = Data(key.utf8)
                t.success = [put]
                t.failure = [get]
                let resp = try await e.kv.txn(request: .init(message: t), options: options) { try $0.message }
                var kvs: [KVRecord] = []
                if !resp.succeeded, let first = resp.responses.first, case .responseRange(let rr)? = first.response {
                    kvs = rr.kvs.map(record)
                }
                return .compareAndSet(revision: resp.header.revision, succeeded: resp.succeeded, kvs: kvs)
            case .leaseGrant(let ttl):
                var r = Etcdserverpb_LeaseGrantRequest()
                r.ttl = ttl
                let resp = try await e.lease.leaseGrant(request: .init(message: r), options: options) { try $0.message }
                if !resp.error.isEmpty { return .failed(code: "grant", message: resp.error) }
                return .leaseGrant(revision: resp.header.revision, id: resp.id)
            case .leaseRevoke(let id):
                var r = Etcdserverpb_LeaseRevokeRequest()
                r.id = id
                let resp = try await e.lease.leaseRevoke(request: .init(message: r), options: options) { try $0.message }
                return .leaseRevoke(revision: resp.header.revision)
            case .compact(let revision):
                var r = Etcdserverpb_CompactionRequest()
                r.revision = revision
                let resp = try await e.kv.compact(request: .init(message: r), options: options) { try $0.message }
                return .compact(revision: resp.header.revision)
            }
        } catch {
            switch ErrorClass(error) {
            case .definite(let code, let message): return .failed(code: code, message: message)
            case .unknown(let reason): return .unknown(reason: reason)
            }
        }
    }

    static func record(_ kv: Mvccpb_KeyValue) -> KVRecord {
        KVRecord(
            key: String(decoding: kv.key, as: UTF8.self), value: String(decoding: kv.value, as: UTF8.self),
            modRevision: kv.modRevision, createRevision: kv.createRevision, version: kv.version, lease: kv.lease)
    }

    /// The key and range end of every key starting with `prefix`; the empty prefix is the
    /// whole keyspace (etcd: key "\0", range end "\0").
    public static func prefixRange(_ prefix: String) -> (Data, Data) {
        prefix.isEmpty ? (Data([0]), Data([0])) : (Data(prefix.utf8), prefixEnd(Data(prefix.utf8)))
    }

    /// etcd's prefix range end: the prefix with its last byte incremented.
    public static func prefixEnd(_ prefix: Data) -> Data {
        var bytes = [UInt8](prefix)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes)
            }
            bytes.removeLast()
        }
        return Data([0])
    }
}
