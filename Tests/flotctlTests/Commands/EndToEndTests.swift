import Foundation
import Proto
import Synchronization
import Testing

@testable import flotctl

/// flotctl's verbs against a real gRPC server (the single-store EtcdServer) over HTTP/2.
@Suite struct EndToEndTests {
    @Test func putGetDelRoundTrip() async throws {
        try await withLoopbackSession { s in
            #expect(try await PutCommand.parse(["a1", "x"]).execute(s, .simple) == "OK\n")
            #expect(try await PutCommand.parse(["a2", "y"]).execute(s, .simple) == "OK\n")
            #expect(try await PutCommand.parse(["a2", "z", "--prev-kv"]).execute(s, .simple) == "OK\na2\ny\n")
            #expect(try await PutCommand.parse(["b", "w"]).execute(s, .simple) == "OK\n")
            #expect(try await GetCommand.parse(["a", "--prefix"]).execute(s, .simple) == "a1\nx\na2\nz\n")
            #expect(try await GetCommand.parse(["a", "--prefix", "--count-only"]).execute(s, .simple) == "2\n")
            #expect(try await GetCommand.parse(["a", "--prefix", "--keys-only"]).execute(s, .simple) == "a1\n\na2\n\n")
            #expect(try await GetCommand.parse(["a", "--prefix", "--print-value-only", "--order", "DESCEND"]).execute(s, .simple) == "z\nx\n")
            #expect(try await GetCommand.parse(["a", "--from-key", "--limit", "1"]).execute(s, .simple) == "a1\nx\n")
            #expect(try await GetCommand.parse(["a2", "--rev", "3"]).execute(s, .simple) == "a2\ny\n")
            let json = try await GetCommand.parse(["b"]).execute(s, .json)
            #expect(json.contains(#""kvs":[{"key":"Yg==","create_revision":5,"mod_revision":5,"version":1,"value":"dw=="}],"count":1}"#))
            #expect(try await DelCommand.parse(["a", "--prefix", "--prev-kv"]).execute(s, .simple) == "2\na1\nx\na2\nz\n")
            #expect(try await GetCommand.parse(["", "--from-key"]).execute(s, .simple) == "b\nw\n")
        }
    }

    @Test func errorsCarryEtcdsMessage() async throws {
        try await withLoopbackSession { s in
            _ = try await PutCommand.parse(["k", "v"]).execute(s, .simple)
            do {
                _ = try await GetCommand.parse(["k", "--rev", "99"]).execute(s, .simple)
                Issue.record("a future revision must fail")
            } catch {
                #expect(CLIError.from(error).message == "etcdserver: mvcc: required revision is a future revision")
                #expect(CLIError.from(error).code == .error)
            }
        }
    }

    @Test func txnFromEtcdctlSyntax() async throws {
        try await withLoopbackSession { s in
            _ = try await PutCommand.parse(["foo", "bar"]).execute(s, .simple)
            let t = try TxnParser.parse("value(\"foo\") = \"bar\"\n\nput foo x\nget foo\n\nput y 1\n\n")
            let r = try await s.kv.txn(t)
            #expect(try TxnCommand.parse([]).render(r, .simple) == "SUCCESS\n\nOK\n\nfoo\nx\n")
            let again = try await s.kv.txn(t)
            #expect(try TxnCommand.parse([]).render(again, .simple) == "FAILURE\n\nOK\n")
            #expect(try await GetCommand.parse(["y", "--print-value-only"]).execute(s, .simple) == "1\n")
        }
    }

    @Test func leaseVerbs() async throws {
        try await withLoopbackSession { s in
            let granted = try await LeaseCommand.Grant.parse(["60"]).execute(s, .simple)
            let parts = granted.split(separator: " ")
            #expect(parts.count == 5 && parts[0] == "lease" && granted.hasSuffix("granted with TTL(60s)\n"))
            let id = String(parts[1])
            #expect(try await PutCommand.parse(["lk", "v", "--lease", id]).execute(s, .simple) == "OK\n")
            let ttl = try await LeaseCommand.TimeToLive.parse([id, "--keys"]).execute(s, .simple)
            #expect(ttl.hasPrefix("lease \(id) granted with TTL(60s), remaining("))
            #expect(ttl.hasSuffix("attached keys([lk])\n"))
            #expect(try await LeaseCommand.List.parse([]).execute(s, .simple) == "found 1 leases\n\(id)\n")
            let kept = Mutex<[String]>([])
            try await LeaseCommand.KeepAlive.parse([id, "--once"]).stream(s, .simple, maxCount: 1) { text in
                kept.withLock { $0.append(text) }
                return true
            }
            #expect(kept.withLock { $0 } == ["lease \(id) keepalived with TTL(60)\n"])
            #expect(try await LeaseCommand.Revoke.parse([id]).execute(s, .simple) == "lease \(id) revoked\n")
            #expect(try await GetCommand.parse(["lk", "--count-only"]).execute(s, .simple) == "0\n")
            do {
                _ = try await LeaseCommand.Revoke.parse([id]).execute(s, .simple)
                Issue.record("revoking twice must fail")
            } catch {
                #expect(CLIError.from(error).message == "failed to revoke lease (etcdserver: requested lease not found)")
            }
        }
    }

    @Test func watchPrintsEventsWithPrevKV() async throws {
        try await withLoopbackSession { s in
            _ = try await PutCommand.parse(["w1", "a"]).execute(s, .simple)  // revision 2
            _ = try await PutCommand.parse(["w1", "b"]).execute(s, .simple)  // revision 3
            _ = try await DelCommand.parse(["w1"]).execute(s, .simple)  // revision 4
            let create = try WatchCommand.parse(["w", "--prefix", "--rev", "3", "--prev-kv"]).createRequest()
            let seen = Mutex("")
            try await WatchCommand.stream(s, create, format: .simple) { text in
                seen.withLock { $0 += text }
                return !seen.withLock { $0.contains("DELETE") }
            }
            #expect(seen.withLock { $0 } == "PUT\nw1\na\nw1\nb\nDELETE\nw1\nb\nw1\n\n")
        }
    }

    @Test func compactedWatchIsReportedAsAnError() async throws {
        try await withLoopbackSession { s in
            for v in ["1", "2", "3"] { _ = try await PutCommand.parse(["c", v]).execute(s, .simple) }
            #expect(try await CompactionCommand.parse(["3"]).execute(s) == "compacted revision 3\n")
            let create = try WatchCommand.parse(["c", "--rev", "2"]).createRequest()
            do {
                try await WatchCommand.stream(s, create, format: .simple) { _ in false }
                Issue.record("a watch from a compacted revision must be canceled")
            } catch {
                #expect(CLIError.from(error).message.contains("required revision has been compacted"))
            }
        }
    }

    @Test func clusterAndMaintenanceVerbs() async throws {
        try await withLoopbackSession { s in
            let members = try await MemberCommand.List.parse([]).execute(s, .simple)
            #expect(members.contains(", started, ") && members.hasSuffix("\n"))
            let status = try await s.maintenance.status(Etcdserverpb_StatusRequest())
            let line = EndpointCommand.Status.render([(s.endpoint.description, status)], .simple)
            #expect(line.hasPrefix("\(s.endpoint), \(SimpleFormat.hex(status.header.memberID)), "))
            _ = try await PutCommand.parse(["snap", "shot"]).execute(s, .simple)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("flotctl-\(UUID().uuidString).db").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let bytes = try await SnapshotCommand.Save.save(s, to: file)
            let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int
            #expect(size == bytes && bytes > 32 && (bytes - 32) % 512 == 0)
            #expect(!FileManager.default.fileExists(atPath: file + ".part"))
        }
    }

    @Test func benchLoopCountsEveryRequest() async throws {
        try await withLoopbackSession { s in
            let o = try BenchOptions.parse(["--clients", "4", "--total", "200", "--key-space", "10"])
            let r = await BenchRunner.run(o, sessions: [s], seed: 1) { s, _, rng in
                var p = Etcdserverpb_PutRequest()
                p.key = o.key(Int.random(in: 0..<o.keySpace, using: &rng))
                p.value = Data("v".utf8)
                _ = try await s.kv.put(p)
            }
            #expect(r.histogram.count == 200 && r.errors == 0)
            #expect(r.histogram.percentile(0.5) > 0 && r.histogram.percentile(0.5) <= r.histogram.percentile(0.99))
            let count = try await GetCommand.parse(["", "--from-key", "--count-only"]).execute(s, .simple)
            #expect(Int(count.dropLast())! <= 10)
            let status = try await s.maintenance.status(Etcdserverpb_StatusRequest())
            #expect(status.header.revision == 201)
            let report = BenchRunner.report(workload: "put", r)
            #expect(report.contains("RESULT workload=put ops=200 errors=0 "))
        }
    }
}
