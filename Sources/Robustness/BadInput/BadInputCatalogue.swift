import Foundation
import GRPCCore
import Proto

/// The bad-input catalogue (issue #6): malformed and edge-case requests with etcd 3.4's
/// answers. Each case uses keys of its own under "bad/". Run by RobustnessTests against the
/// in-process Flotilla API server and by `Tools/robustness --bad-input` against real etcd.
public enum BadInputCatalogue {
    static let notProvided = ExpectedAnswer.error(code: "invalidArgument", message: "etcdserver: key is not provided")
    static let tooLarge = ExpectedAnswer.error(code: "invalidArgument", message: "etcdserver: request is too large")
    static let tooMany = ExpectedAnswer.error(code: "invalidArgument", message: "etcdserver: too many operations in txn request")
    static let duplicate = ExpectedAnswer.error(code: "invalidArgument", message: "etcdserver: duplicate key given in txn request")
    static let sortOption = ExpectedAnswer.error(code: "invalidArgument", message: "etcdserver: invalid sort option")
    static let leaseNotFound = ExpectedAnswer.error(code: "notFound", message: "etcdserver: requested lease not found")
    static let future = ExpectedAnswer.error(code: "outOfRange", message: "etcdserver: mvcc: required revision is a future revision")
    static let compacted = ExpectedAnswer.error(code: "outOfRange", message: "etcdserver: mvcc: required revision has been compacted")

    static func d(_ s: String) -> Data { Data(s.utf8) }

    static func answer(_ body: () async throws -> String) async -> BadInputAnswer {
        do { return .ok(try await body()) } catch { return BadInputAnswer(error) }
    }

    static func range(_ e: EtcdEndpoint, _ r: Etcdserverpb_RangeRequest) async -> BadInputAnswer {
        await answer {
            let resp = try await e.kv.range(r)
            return "count=\(resp.count) kvs=\(resp.kvs.count)"
        }
    }

    static func put(_ e: EtcdEndpoint, _ key: String, _ value: String = "v", lease: Int64 = 0) async throws -> Etcdserverpb_PutResponse {
        var p = Etcdserverpb_PutRequest()
        p.key = d(key)
        p.value = d(value)
        p.lease = lease
        return try await e.kv.put(p)
    }

    static func txn(_ e: EtcdEndpoint, _ t: Etcdserverpb_TxnRequest) async -> BadInputAnswer {
        await answer {
            let r = try await e.kv.txn(t)
            return "succeeded=\(r.succeeded) responses=\(r.responses.count)"
        }
    }

    static func putOp(_ key: String) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.requestPut.key = d(key)
        op.requestPut.value = d("v")
        return op
    }

    /// Compacts at a fresh revision with two writes behind it; returns the compacted revision.
    static func compactNow(_ e: EtcdEndpoint, _ key: String) async throws -> Int64 {
        _ = try await put(e, key, "1")
        let r = try await put(e, key, "2").header.revision
        var c = Etcdserverpb_CompactionRequest()
        c.revision = r
        _ = try await e.kv.compact(c)
        return r
    }

    public static let cases: [BadInputCase] = kvCases + txnCases + leaseCases + watchCases

    static let kvCases: [BadInputCase] = [
        BadInputCase("put value above max-request-bytes", tooLarge) { e in
            await answer { _ = try await put(e, "bad/large", String(repeating: "x", count: 3 * 512 * 1024 + 1)); return "" }
        },
        BadInputCase("put message above the gRPC receive limit", .anyCode(["resourceExhausted", "unavailable"])) { e in
            await answer { _ = try await put(e, "bad/huge", String(repeating: "x", count: 2 * 1024 * 1024 + 64)); return "" }
        },
        BadInputCase("put value just below the limit", .ok("rev=")) { e in
            await answer { "rev=\(try await put(e, "bad/near", String(repeating: "x", count: 3 * 512 * 1024 - 200)).header.revision)" }
        },
        BadInputCase("range with empty key", notProvided) { e in await range(e, Etcdserverpb_RangeRequest()) },
        BadInputCase("put with empty key", notProvided) { e in await answer { _ = try await put(e, ""); return "" } },
        BadInputCase("delete with empty key", notProvided) { e in
            await answer { _ = try await e.kv.deleteRange(Etcdserverpb_DeleteRangeRequest()); return "" }
        },
        BadInputCase("range_end below key is an empty range", .ok("count=0")) { e in
            _ = try? await put(e, "bad/re/b")
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/re/b")
            r.rangeEnd = d("bad/re/a")
            return await range(e, r)
        },
        BadInputCase("delete with range_end equal to key deletes nothing", .ok("deleted=0")) { e in
            _ = try? await put(e, "bad/de/b")
            var r = Etcdserverpb_DeleteRangeRequest()
            r.key = d("bad/de/b")
            r.rangeEnd = d("bad/de/b")
            return await answer { "deleted=\(try await e.kv.deleteRange(r).deleted)" }
        },
        BadInputCase("range_end \\0 means every key from key", .ok("count=2")) { e in
            _ = try? await put(e, "~bad/zz/a")
            _ = try? await put(e, "~bad/zz/b")
            var r = Etcdserverpb_RangeRequest()
            r.key = d("~bad/zz/")
            r.rangeEnd = Data([0])
            return await range(e, r)
        },
        BadInputCase("unknown sort order", sortOption) { e in
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/sort")
            r.sortOrder = .UNRECOGNIZED(7)
            return await range(e, r)
        },
        BadInputCase("unknown sort target", sortOption) { e in
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/sort")
            r.sortTarget = .UNRECOGNIZED(9)
            return await range(e, r)
        },
        BadInputCase("negative limit reads everything", .ok("kvs=1")) { e in
            _ = try? await put(e, "bad/limit/a")
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/limit/")
            r.rangeEnd = d("bad/limit0")
            r.limit = -5
            return await range(e, r)
        },
        BadInputCase("negative revision reads the current revision", .ok("kvs=1")) { e in
            _ = try? await put(e, "bad/negrev")
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/negrev")
            r.revision = -3
            return await range(e, r)
        },
        BadInputCase("range at a future revision", future) { e in
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/future")
            r.revision = 1 << 40
            return await range(e, r)
        },
        BadInputCase("range at a compacted revision", compacted) { e in
            guard let c = try? await compactNow(e, "bad/compacted") else { return .ok("setup failed") }
            var r = Etcdserverpb_RangeRequest()
            r.key = d("bad/compacted")
            r.revision = c - 1
            return await range(e, r)
        },
        BadInputCase("compact at a future revision", future) { e in
            var c = Etcdserverpb_CompactionRequest()
            c.revision = 1 << 40
            return await answer { _ = try await e.kv.compact(c); return "" }
        },
        BadInputCase("compact at an already compacted revision", compacted) { e in
            guard let r = try? await compactNow(e, "bad/compact-again") else { return .ok("setup failed") }
            var c = Etcdserverpb_CompactionRequest()
            c.revision = r - 1
            return await answer { _ = try await e.kv.compact(c); return "" }
        },
        BadInputCase("put ignore_value with a value", .error(code: "invalidArgument", message: "etcdserver: value is provided")) { e in
            _ = try? await put(e, "bad/iv")
            var p = Etcdserverpb_PutRequest()
            p.key = d("bad/iv")
            p.value = d("x")
            p.ignoreValue = true
            return await answer { _ = try await e.kv.put(p); return "" }
        },
        BadInputCase("put ignore_lease with a lease", .error(code: "invalidArgument", message: "etcdserver: lease is provided")) { e in
            _ = try? await put(e, "bad/il")
            var p = Etcdserverpb_PutRequest()
            p.key = d("bad/il")
            p.lease = 12345
            p.ignoreLease = true
            return await answer { _ = try await e.kv.put(p); return "" }
        },
        BadInputCase("put ignore_value on a missing key", .error(code: "invalidArgument", message: "etcdserver: key not found")) { e in
            var p = Etcdserverpb_PutRequest()
            p.key = d("bad/missing-iv")
            p.ignoreValue = true
            return await answer { _ = try await e.kv.put(p); return "" }
        },
        BadInputCase("put with an unknown lease", leaseNotFound) { e in
            await answer { _ = try await put(e, "bad/nolease", lease: 0x7777_0000_1111); return "" }
        },
        BadInputCase("put with the largest lease ID", leaseNotFound) { e in
            await answer { _ = try await put(e, "bad/maxlease", lease: .max); return "" }
        },
        BadInputCase("binary metadata with invalid UTF-8 is ignored", .ok("rev=")) { e in
            var p = Etcdserverpb_PutRequest()
            p.key = d("bad/meta")
            var md = Metadata()
            md.addBinary([0xFF, 0xFE, 0xC3, 0x28, 0x80], forKey: "x-robustness-bin")
            return await answer { "rev=\(try await e.kv.put(p, metadata: md).header.revision)" }
        },
        // etcd (grpc-go) resets the stream (PROTOCOL_ERROR) for a control character in a text
        // header; grpc-swift accepts it and the request proceeds. Either way nothing is applied
        // wrongly and the server stays up.
        BadInputCase("control character in a text metadata value", .okOrAnyCode(["unavailable", "internalError"])) { e in
            var p = Etcdserverpb_PutRequest()
            p.key = d("bad/meta-text")
            var md = Metadata()
            md.addString("\u{7f}\u{01}not-a-token", forKey: "token")
            return await answer { "rev=\(try await e.kv.put(p, metadata: md).header.revision)" }
        },
    ]

    static let txnCases: [BadInputCase] = [
        BadInputCase("txn compare with empty key", notProvided) { e in
            var t = Etcdserverpb_TxnRequest()
            var c = Etcdserverpb_Compare()
            c.target = .version
            t.compare = [c]
            return await txn(e, t)
        },
        BadInputCase("txn with 129 success ops", tooMany) { e in
            var t = Etcdserverpb_TxnRequest()
            t.success = (0..<129).map { putOp("bad/many/\($0)") }
            return await txn(e, t)
        },
        BadInputCase("txn with 129 compares", tooMany) { e in
            var t = Etcdserverpb_TxnRequest()
            t.compare = (0..<129).map { i in
                var c = Etcdserverpb_Compare()
                c.key = d("bad/cmp/\(i)")
                c.target = .version
                return c
            }
            return await txn(e, t)
        },
        BadInputCase("txn with exactly 128 ops is fine", .ok("succeeded=true")) { e in
            var t = Etcdserverpb_TxnRequest()
            t.success = (0..<128).map { putOp("bad/128/\($0)") }
            return await txn(e, t)
        },
        BadInputCase("txn putting one key twice", duplicate) { e in
            var t = Etcdserverpb_TxnRequest()
            t.success = [putOp("bad/dup"), putOp("bad/dup")]
            return await txn(e, t)
        },
        BadInputCase("txn put inside a delete range of the same branch", duplicate) { e in
            var t = Etcdserverpb_TxnRequest()
            var del = Etcdserverpb_RequestOp()
            del.requestDeleteRange.key = d("bad/dr/")
            del.requestDeleteRange.rangeEnd = d("bad/dr0")
            t.success = [del, putOp("bad/dr/x")]
            return await txn(e, t)
        },
        BadInputCase("txn duplicate key across a nested txn", duplicate) { e in
            var inner = Etcdserverpb_TxnRequest()
            inner.success = [putOp("bad/nested")]
            var nested = Etcdserverpb_RequestOp()
            nested.requestTxn = inner
            var t = Etcdserverpb_TxnRequest()
            t.success = [putOp("bad/nested"), nested]
            return await txn(e, t)
        },
        BadInputCase("txn same key in success and failure is fine", .ok("succeeded=true")) { e in
            var t = Etcdserverpb_TxnRequest()
            t.success = [putOp("bad/both")]
            t.failure = [putOp("bad/both")]
            return await txn(e, t)
        },
        BadInputCase("empty txn", .ok("succeeded=true responses=0")) { e in await txn(e, Etcdserverpb_TxnRequest()) },
        BadInputCase("txn value above max-request-bytes", tooLarge) { e in
            var t = Etcdserverpb_TxnRequest()
            var op = putOp("bad/txnlarge")
            op.requestPut.value = Data(repeating: 0x61, count: 3 * 512 * 1024 + 1)
            t.success = [op]
            return await txn(e, t)
        },
    ]

    static let leaseCases: [BadInputCase] = [
        BadInputCase("lease grant TTL above the maximum", .error(code: "outOfRange", message: "etcdserver: too large lease TTL")) { e in
            var g = Etcdserverpb_LeaseGrantRequest()
            g.ttl = 9_000_000_001
            return await answer { _ = try await e.lease.leaseGrant(g); return "" }
        },
        BadInputCase("lease grant with an existing ID", .error(code: "failedPrecondition", message: "etcdserver: lease already exists")) { e in
            var g = Etcdserverpb_LeaseGrantRequest()
            g.ttl = 60
            g.id = 0x5151_0000_0001
            _ = try? await e.lease.leaseGrant(g)
            return await answer { _ = try await e.lease.leaseGrant(g); return "" }
        },
        BadInputCase("lease grant TTL below the minimum is raised", .ok("raised=true")) { e in
            var g = Etcdserverpb_LeaseGrantRequest()
            g.ttl = 1
            return await answer { "raised=\(try await e.lease.leaseGrant(g).ttl > 1)" }
        },
        BadInputCase("lease revoke of an unknown lease", leaseNotFound) { e in
            var r = Etcdserverpb_LeaseRevokeRequest()
            r.id = 0x6262_0000_0002
            return await answer { _ = try await e.lease.leaseRevoke(r); return "" }
        },
        BadInputCase("lease time-to-live of an unknown lease is TTL -1", .ok("ttl=-1")) { e in
            var r = Etcdserverpb_LeaseTimeToLiveRequest()
            r.id = 0x6363_0000_0003
            return await answer { "ttl=\(try await e.lease.leaseTimeToLive(r).ttl)" }
        },
        BadInputCase("keep-alive of an unknown (expired) lease is TTL 0", .ok("ttl=0")) { e in
            var r = Etcdserverpb_LeaseKeepAliveRequest()
            r.id = 0x6464_0000_0004
            let request = r
            return await answer {
                try await e.lease.leaseKeepAlive(
                    request: StreamingClientRequest { w in try await w.write(request) }
                ) { response in
                    for try await m in response.messages { return "ttl=\(m.ttl)" }
                    return "no response"
                }
            }
        },
    ]

    /// Opens a Watch stream, sends the requests, collects responses for `window`.
    static func watchResponses(
        _ e: EtcdEndpoint, _ requests: [Etcdserverpb_WatchRequest], count: Int, window: Duration = .milliseconds(700)
    ) async -> [Etcdserverpb_WatchResponse] {
        let got = Shared<[Etcdserverpb_WatchResponse]>([])
        let call = Task {
            try await e.watch.watch(
                request: StreamingClientRequest { w in
                    for r in requests { try await w.write(r) }
                    try await Task.sleep(for: window)
                }
            ) { response in
                for try await m in response.messages {
                    if got.withLock({ $0.append(m); return $0.count }) >= count { break }
                }
            }
        }
        let timer = Task {
            try await Task.sleep(for: window + .seconds(2))
            call.cancel()
        }
        _ = try? await call.value
        timer.cancel()
        return got.value
    }

    static func create(_ key: String, end: String = "", start: Int64 = 0, id: Int64 = 0) -> Etcdserverpb_WatchRequest {
        var r = Etcdserverpb_WatchRequest()
        r.createRequest.key = d(key)
        r.createRequest.rangeEnd = d(end)
        r.createRequest.startRevision = start
        r.createRequest.watchID = id
        return r
    }

    static func summary(_ rs: [Etcdserverpb_WatchResponse]) -> String {
        rs.map { m in
            "created=\(m.created) canceled=\(m.canceled) compact=\(m.compactRevision > 0) reason=\(m.cancelReason) events=\(m.events.count)"
        }.joined(separator: " | ")
    }

    static let watchCases: [BadInputCase] = [
        BadInputCase("watch on an empty range", .ok("canceled=true")) { e in
            .ok(summary(await watchResponses(e, [create("bad/w/b", end: "bad/w/a")], count: 2)))
        },
        // etcd 3.5 puts "etcdserver: mvcc: required revision has been compacted" in the reason;
        // 3.4 answers created, then canceled with compact_revision and no reason.
        BadInputCase("watch with a negative start revision", .ok("canceled=true")) { e in
            .ok(summary(await watchResponses(e, [create("bad/w/neg", start: -1)], count: 2)))
        },
        BadInputCase("watch from a future revision stays silent", .ok("canceled=false compact=false reason= events=0 total=1")) { e in
            let rs = await watchResponses(e, [create("bad/w/future", start: 1 << 40)], count: 3)
            return .ok(summary(rs) + " total=\(rs.count)")
        },
        BadInputCase("watch from a compacted revision", .ok("canceled=true compact=true")) { e in
            guard let c = try? await compactNow(e, "bad/w/compacted") else { return .ok("setup failed") }
            return .ok(summary(await watchResponses(e, [create("bad/w/compacted", start: c - 1)], count: 2)))
        },
        BadInputCase("flood of 500 watch creations on one stream", .ok("created=500")) { e in
            let rs = await watchResponses(e, (0..<500).map { _ in create("bad/w/flood") }, count: 500, window: .seconds(3))
            return .ok("created=\(rs.filter(\.created).count)")
        },
    ]
}
