import Foundation
import GRPCCore
import Testing

@testable import flotctl

@Suite struct BenchRunnerTests {
    /// A session that is never connected: the ops below do not use it.
    static func idleSession() throws -> EtcdSession {
        let e = Endpoint(host: "127.0.0.1", port: 1)
        return EtcdSession(endpoint: e, client: GRPCClient(transport: try EtcdSession.transport(to: e)))
    }

    @Test func failedRequestsAreCountedByKindAndBackedOff() async throws {
        // A request budget, not a duration: a duration starts before the client tasks are
        // scheduled, and a full parallel test run on 2 cores can hold them back for longer
        // than any short duration (seen: 39 s, 0 requests).
        let o = try BenchOptions.parse(["--clients", "4", "--total", "24"])
        let r = await BenchRunner.run(o, sessions: [try Self.idleSession()], seed: 1) { _, c, _ in
            throw CLIError(c % 2 == 0 ? "etcdserver: too many requests" : "Stream unexpectedly closed.")
        }
        #expect(r.errors == 24, "errors \(r.errors)")
        // Backed off after each failure (1, 2, 4 … ms): 24 failures over 4 clients take at
        // least 1 + 2 + 4 + 8 + 16 ms on some client; a hot error loop takes microseconds.
        #expect(r.elapsed >= .milliseconds(31), "elapsed \(r.elapsed)")
        #expect(r.histogram.count == 0)
        #expect(r.errorKinds.values.reduce(0, +) == r.errors)
        #expect(Set(r.errorKinds.keys) == ["etcdserver: too many requests", "Stream unexpectedly closed."])
        let report = BenchRunner.report(workload: "put", r)
        #expect(report.contains("INVALID: \(r.errors) failed requests"))
        #expect(report.contains("errors=\(r.errors) "))
        #expect(throws: CLIError.self) { try BenchRunner.requireNoErrors(r) }
    }

    @Test func backoffDoublesToItsCapAndSuccessResetsIt() {
        var d = Duration.zero
        var seen: [Duration] = []
        for _ in 0..<12 {
            d = BenchRunner.nextBackoff(after: d)
            seen.append(d)
        }
        #expect(seen.first == .milliseconds(1))
        #expect(seen[3] == .milliseconds(8))
        #expect(seen.last == .milliseconds(250))
        #expect(BenchRunner.nextBackoff(after: .zero) == .milliseconds(1))
    }
}

@Suite struct BenchKeyTests {
    @Test func plainKeysAreZeroPaddedDecimals() throws {
        let o = try BenchOptions.parse(["--key-size", "8"])
        #expect(o.key(42) == Data("00000042".utf8))
    }

    @Test func spreadKeysAreDistinctAndCoverEveryFirstByteEighth() throws {
        let o = try BenchOptions.parse(["--key-size", "8", "--key-spread"])
        let keys = (0..<10_000).map { o.key($0) }
        #expect(Set(keys).count == keys.count)
        #expect(keys.allSatisfy { $0.count == 8 })
        #expect(keys[42].dropFirst() == Data("0000042".utf8))
        // flotilla dev --ranges 8 splits at first bytes 0x20, 0x40, … 0xe0: every eighth gets ~1/8.
        var perEighth = [Int](repeating: 0, count: 8)
        for k in keys { perEighth[Int(k.first! >> 5)] += 1 }
        #expect(perEighth.allSatisfy { $0 > 1_000 && $0 < 1_500 }, "\(perEighth)")
    }
}
