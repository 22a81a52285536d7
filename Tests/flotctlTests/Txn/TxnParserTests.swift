import Foundation
import Proto
import Testing

@testable import flotctl

@Suite struct TxnParserTests {
    @Test func comparesOfEveryTargetAndOperator() throws {
        let v = try TxnParser.compare(#"value("k1") = "bar""#)
        #expect(v.target == .value && v.result == .equal && v.key == Data("k1".utf8) && v.value == Data("bar".utf8))
        let m = try TxnParser.compare(#"mod("k2") > "0""#)
        #expect(m.target == .mod && m.result == .greater && m.modRevision == 0)
        let ver = try TxnParser.compare(#"ver("k3") != 3"#)
        #expect(ver.target == .version && ver.result == .notEqual && ver.version == 3)
        let c = try TxnParser.compare(#"create("k4") < "12""#)
        #expect(c.target == .create && c.result == .less && c.createRevision == 12)
        let l = try TxnParser.compare(#"lease("k5") = "694d77aa9e38260f""#)
        #expect(l.target == .lease && l.lease == Int64(bitPattern: 0x694d_77aa_9e38_260f))
        let empty = try TxnParser.compare(#"val("k6") = """#)
        #expect(empty.target == .value && empty.value.isEmpty)
        let escaped = try TxnParser.compare(#"value("a \"q\" key") = "x y""#)
        #expect(escaped.key == Data(#"a "q" key"#.utf8) && escaped.value == Data("x y".utf8))
    }

    @Test func malformedComparesAreRejected() {
        for line in [#"value(k) = "x""#, #"size("k") = "1""#, #"mod("k") >= "1""#, #"version("k") = "one""#,
                     #"value("k") = "x" trailing"#, "nothing here", #"mod("k" = 1"#] {
            #expect(throws: CLIError.self, "\(line)") { try TxnParser.compare(line) }
        }
    }

    @Test func opsUseTheVerbsFlags() throws {
        let put = try TxnParser.op("put k1 \"hello world\" --lease=1f --prev-kv")
        #expect(put.requestPut.key == Data("k1".utf8) && put.requestPut.value == Data("hello world".utf8))
        #expect(put.requestPut.lease == 0x1f && put.requestPut.prevKv)
        let get = try TxnParser.op("get pre --prefix --limit=2")
        #expect(get.requestRange.key == Data("pre".utf8) && get.requestRange.rangeEnd == Data("prf".utf8))
        #expect(get.requestRange.limit == 2)
        let del = try TxnParser.op("del a z")
        #expect(del.requestDeleteRange.key == Data("a".utf8) && del.requestDeleteRange.rangeEnd == Data("z".utf8))
        #expect(throws: CLIError.self) { try TxnParser.op("merge a b") }
        #expect(throws: CLIError.self) { try TxnParser.op("put onlykey") }
        #expect(throws: CLIError.self) { try TxnParser.op("get k --bogus") }
    }

    @Test func sectionsAreSeparatedByBlankLines() throws {
        let text = """
            mod("foo") > "0"
            value("foo") = "bar"

            put foo x
            get foo
            del foo2

            put y 1

            put ignored after the end
            """
        let t = try TxnParser.parse(text)
        #expect(t.compare.count == 2)
        #expect(t.success.count == 3)
        #expect(t.failure.count == 1)
        #expect(t.failure[0].requestPut.key == Data("y".utf8))
    }

    @Test func emptyCompareAndSuccessSections() throws {
        let t = try TxnParser.parse("\n\nput only failure\n")
        #expect(t.compare.isEmpty && t.success.isEmpty)
        #expect(t.failure.count == 1 && t.failure[0].requestPut.value == Data("failure".utf8))
    }

    @Test func argifyGroupsQuotedWords() throws {
        #expect(try TxnParser.argify(#"put "a b" 'c d'  e"#) == ["put", "a b", "c d", "e"])
        #expect(try TxnParser.argify(#"put k "say \"hi\"""#) == ["put", "k", #"say "hi""#])
        #expect(try TxnParser.argify(#"put k """#) == ["put", "k", ""])
        #expect(throws: CLIError.self) { try TxnParser.argify(#"put "open"#) }
    }
}
