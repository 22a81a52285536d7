import Foundation
import Proto
import Testing

@testable import flotctl

@Suite struct FlagParsingTests {
    @Test func getFlagsBuildTheRangeRequest() throws {
        let g = try GetCommand.parse(["foo", "--prefix", "--limit", "5", "--sort-by", "MODIFY", "--rev=7", "--keys-only",
                                      "--consistency", "s", "-w", "json", "--endpoints", "10.0.0.1:1,10.0.0.2:2"])
        let r = try g.request()
        #expect(r.key == Data("foo".utf8) && r.rangeEnd == Data("fop".utf8))
        #expect(r.limit == 5 && r.revision == 7 && r.keysOnly && r.serializable)
        #expect(r.sortTarget == .mod && r.sortOrder == .ascend)
        #expect(g.global.writeOut == .json)
        #expect(try g.global.endpointList() == [Endpoint(host: "10.0.0.1", port: 1), Endpoint(host: "10.0.0.2", port: 2)])

        let d = try GetCommand.parse(["a", "z", "--order", "DESCEND", "--count-only"]).request()
        #expect(d.key == Data("a".utf8) && d.rangeEnd == Data("z".utf8) && d.sortOrder == .descend && d.sortTarget == .key)
        #expect(d.countOnly && !d.serializable)

        let all = try GetCommand.parse(["", "--from-key"]).request()
        #expect(all.key == Data([0]) && all.rangeEnd == Data([0]))
        let everything = try GetCommand.parse(["", "--prefix"]).request()
        #expect(everything.key == Data([0]) && everything.rangeEnd == Data([0]))
    }

    @Test func conflictingOrBadFlagsAreRejected() throws {
        #expect(throws: CLIError.self) { try GetCommand.parse(["a", "--prefix", "--from-key"]).request() }
        #expect(throws: CLIError.self) { try GetCommand.parse(["a", "b", "--prefix"]).request() }
        #expect(throws: CLIError.self) { try GetCommand.parse(["a", "--sort-by", "SIZE"]).request() }
        #expect(throws: CLIError.self) { try GetCommand.parse(["a", "--consistency", "x"]).request() }
        #expect(throws: (any Error).self) { try GetCommand.parse(["a", "-w", "yaml"]) }
        #expect(throws: (any Error).self) { try GetCommand.parse(["a", "--endpoints", "nohost"]) }
        #expect(throws: (any Error).self) { try GetCommand.parse(["a", "--dial-timeout", "3"]) }
    }

    @Test func prefixEndIncrementsTheLastByteBelow0xff() {
        #expect(KeyRange.prefixEnd(Data("abc".utf8)) == Data("abd".utf8))
        #expect(KeyRange.prefixEnd(Data([0x61, 0xff])) == Data([0x62]))
        #expect(KeyRange.prefixEnd(Data([0xff, 0xff])) == Data([0]))
    }

    @Test func putAndDelFlags() throws {
        let p = try PutCommand.parse(["k", "v", "--lease", "694d77aa9e38260f", "--prev-kv"]).request()
        #expect(p.lease == Int64(bitPattern: 0x694d_77aa_9e38_260f) && p.prevKv && p.value == Data("v".utf8))
        let fromStdin = try PutCommand.parse(["k"]).request(stdinValue: { "piped" })
        #expect(fromStdin.value == Data("piped".utf8))
        #expect(throws: CLIError.self) { try PutCommand.parse(["k"]).request() }
        #expect(throws: CLIError.self) { try PutCommand.parse(["k", "v", "--lease", "xyz"]).request() }
        let d = try DelCommand.parse(["p", "--prefix", "--prev-kv"]).request()
        #expect(d.key == Data("p".utf8) && d.rangeEnd == Data("q".utf8) && d.prevKv)
    }

    @Test func watchFlags() throws {
        let w = try WatchCommand.parse(["k", "--prefix", "--rev", "12", "--prev-kv"]).createRequest()
        #expect(w.key == Data("k".utf8) && w.rangeEnd == Data("l".utf8) && w.startRevision == 12 && w.prevKv)
    }

    @Test func goDurations() throws {
        #expect(try GoDuration.parse("2s") == .seconds(2))
        #expect(try GoDuration.parse("500ms") == .milliseconds(500))
        #expect(try GoDuration.parse("1m30s") == .seconds(90))
        #expect(try GoDuration.parse("1.5s") == .milliseconds(1500))
        #expect(try GoDuration.parse("0") == .zero)
        for bad in ["", "5", "5x", "s", "1.2.3s"] {
            #expect(throws: (any Error).self, "\(bad)") { try GoDuration.parse(bad) }
        }
    }

    @Test func endpoints() throws {
        #expect(try Endpoint(parsing: "http://127.0.0.1:2379/") == Endpoint(host: "127.0.0.1", port: 2379))
        #expect(try Endpoint(parsing: "localhost:23790").isIPv4Literal == false)
        #expect(try Endpoint(parsing: "10.1.2.3:1").isIPv4Literal)
        #expect(throws: (any Error).self) { try Endpoint(parsing: "127.0.0.1") }
        #expect(throws: (any Error).self) { try Endpoint(parsing: ":2379") }
    }

    @Test func benchOptions() throws {
        let o = try BenchOptions.parse(["--conns", "4", "--clients", "64", "--key-size", "6", "--key-space", "1000"])
        #expect(o.conns == 4 && o.clients == 64)
        #expect(o.key(42) == Data("000042".utf8))
        #expect(o.key(1_234_567) == Data("1234567".utf8))
        #expect(throws: (any Error).self) { try BenchOptions.parse(["--clients", "0"]) }
    }
}
