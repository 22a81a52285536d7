import MVCC

/// The checks the services run before calling a backend (etcd's v3rpc `key.go` checks plus
/// the request-size limit etcd applies to proposals). Stateless.
struct RequestValidator {
    let limits: EtcdLimits

    func check(_ r: RangeRequest) throws {
        try RequestValidation.check(r)
    }

    func check(_ p: PutRequest) throws {
        try RequestValidation.check(p)
        try checkSize(Self.size(p))
    }

    func check(_ d: DeleteRangeRequest) throws {
        try RequestValidation.check(d)
        try checkSize(Self.size(d))
    }

    func check(_ t: TxnRequest) throws {
        try RequestValidation.check(t, maxTxnOps: limits.maxTxnOps)
        try checkSize(Self.size(t))
    }

    func checkLeaseTTL(_ ttl: Int64) throws {
        if ttl > EtcdLimits.maxLeaseTTL { throw EtcdError.leaseTTLTooLarge }
    }

    private func checkSize(_ bytes: Int) throws {
        if bytes > limits.maxRequestBytes { throw EtcdError.requestTooLarge }
    }

    // Approximate encoded sizes (payload bytes plus a few bytes of framing per field):
    // cheap, never below the protobuf size of the byte fields, which dominate.
    static func size(_ p: PutRequest) -> Int { p.key.count + p.value.count + 24 }
    static func size(_ d: DeleteRangeRequest) -> Int { d.key.count + d.rangeEnd.count + 12 }
    static func size(_ r: RangeRequest) -> Int { r.key.count + r.rangeEnd.count + 40 }
    static func size(_ t: TxnRequest) -> Int {
        var n = 0
        for c in t.compare {
            n += c.key.count + c.rangeEnd.count + 16
            if case .value(let v) = c.target { n += v.count }
        }
        for op in t.success + t.failure {
            switch op {
            case .range(let r): n += size(r)
            case .put(let p): n += size(p)
            case .deleteRange(let d): n += size(d)
            case .txn(let inner): n += size(inner)
            case .empty: n += 2
            }
        }
        return n
    }
}
