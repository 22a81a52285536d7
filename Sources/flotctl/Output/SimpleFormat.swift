import Foundation
import Proto

/// etcdctl's "simple" output: one line per key and value, verbs' short confirmations
/// ("OK", "lease … granted with TTL(…s)"), lease IDs in 16-digit hex. Pure functions from
/// responses to the text to print (every line ends with "\n").
enum SimpleFormat {
    static func text(_ d: Data) -> String { String(decoding: d, as: UTF8.self) }

    /// Key and value lines; `valueOnly` prints just the value (etcdctl --print-value-only).
    static func kv(_ kv: Mvccpb_KeyValue, valueOnly: Bool = false) -> String {
        valueOnly ? text(kv.value) + "\n" : text(kv.key) + "\n" + text(kv.value) + "\n"
    }

    static func range(_ r: Etcdserverpb_RangeResponse, valueOnly: Bool = false, countOnly: Bool = false) -> String {
        if countOnly { return "\(r.count)\n" }
        return r.kvs.map { kv($0, valueOnly: valueOnly) }.joined()
    }

    static func put(_ r: Etcdserverpb_PutResponse) -> String {
        "OK\n" + (r.hasPrevKv ? kv(r.prevKv) : "")
    }

    static func delete(_ r: Etcdserverpb_DeleteRangeResponse) -> String {
        "\(r.deleted)\n" + r.prevKvs.map { kv($0) }.joined()
    }

    static func txn(_ r: Etcdserverpb_TxnResponse) -> String {
        var out = r.succeeded ? "SUCCESS\n" : "FAILURE\n"
        for op in r.responses {
            out += "\n"
            switch op.response {
            case .responseRange(let x): out += range(x)
            case .responsePut(let x): out += put(x)
            case .responseDeleteRange(let x): out += delete(x)
            case .responseTxn(let x): out += txn(x)
            case nil: break
            }
        }
        return out
    }

    /// A watch response's events: "PUT"/"DELETE", then the previous key-value when asked
    /// for, then the key-value.
    static func watch(_ r: Etcdserverpb_WatchResponse) -> String {
        var out = ""
        for e in r.events {
            out += e.type == .delete ? "DELETE\n" : "PUT\n"
            if e.hasPrevKv { out += kv(e.prevKv) }
            out += kv(e.kv)
        }
        return out
    }

    static func leaseID(_ id: Int64) -> String { hex(UInt64(bitPattern: id), width: 16) }

    static func hex(_ v: UInt64, width: Int = 0) -> String {
        let s = String(v, radix: 16)
        return s.count < width ? String(repeating: "0", count: width - s.count) + s : s
    }

    static func leaseGrant(_ r: Etcdserverpb_LeaseGrantResponse) -> String {
        "lease \(leaseID(r.id)) granted with TTL(\(r.ttl)s)\n"
    }

    static func leaseRevoke(id: Int64) -> String { "lease \(leaseID(id)) revoked\n" }

    static func leaseTimeToLive(_ r: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) -> String {
        if r.grantedTtl == 0 && r.ttl == -1 { return "lease \(leaseID(r.id)) already expired\n" }
        var s = "lease \(leaseID(r.id)) granted with TTL(\(r.grantedTtl)s), remaining(\(r.ttl)s)"
        if keys { s += ", attached keys([\(r.keys.map(text).joined(separator: " "))])" }
        return s + "\n"
    }

    static func leaseKeepAlive(_ r: Etcdserverpb_LeaseKeepAliveResponse) -> String {
        "lease \(leaseID(r.id)) keepalived with TTL(\(r.ttl))\n"
    }

    static func leaseLeases(_ r: Etcdserverpb_LeaseLeasesResponse) -> String {
        "found \(r.leases.count) leases\n" + r.leases.map { leaseID($0.id) + "\n" }.joined()
    }

    static func memberRow(_ m: Etcdserverpb_Member) -> [String] {
        [hex(m.id), m.name.isEmpty ? "unstarted" : "started", m.name, m.peerUrls.joined(separator: ","),
         m.clientUrls.joined(separator: ","), String(m.isLearner)]
    }

    static func memberList(_ r: Etcdserverpb_MemberListResponse) -> String {
        r.members.map { memberRow($0).joined(separator: ", ") + "\n" }.joined()
    }

    static func statusRow(endpoint: String, _ s: Etcdserverpb_StatusResponse) -> [String] {
        [endpoint, hex(s.header.memberID), s.version, humanBytes(UInt64(max(0, s.dbSize))),
         String(s.leader == s.header.memberID), String(s.isLearner), String(s.raftTerm), String(s.raftIndex),
         String(s.raftAppliedIndex), s.errors.joined(separator: ", ")]
    }

    static func endpointStatus(_ rows: [(endpoint: String, status: Etcdserverpb_StatusResponse)]) -> String {
        rows.map { statusRow(endpoint: $0.endpoint, $0.status).joined(separator: ", ") + "\n" }.joined()
    }

    /// go-humanize's `Bytes`: SI units, one decimal below 10 ("20 kB", "1.5 MB", "512 B").
    static func humanBytes(_ n: UInt64) -> String {
        if n < 10 { return "\(n) B" }
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        let e = min(units.count - 1, Int((log(Double(n)) / log(1000)).rounded(.down)))
        let v = (Double(n) / pow(1000, Double(e)) * 10 + 0.5).rounded(.down) / 10
        return (v < 10 ? String(format: "%.1f", v) : String(format: "%.0f", v)) + " " + units[e]
    }
}
