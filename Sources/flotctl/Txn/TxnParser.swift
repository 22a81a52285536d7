import ArgumentParser
import Foundation
import Proto

/// etcdctl's txn input syntax, read line by line:
///
///     <compare>*            e.g.  mod("key1") > "0"   value("key2") = "v"   version("k") != 0
///     <blank line>
///     <success op>*         put key value [--lease=ID] [--prev-kv] | get key [range_end] [flags] | del …
///     <blank line>
///     <failure op>*
///     <blank line or end of input>
///
/// Compare targets: ver/version, c/create, m/mod, val/value, lease; operators =, !=, <, >.
/// Values may be quoted or not. Ops take the same flags as the put/get/del verbs. Pure:
/// owns only the parse position.
struct TxnParser {
    enum Section: Sendable { case compares, success, failure }

    private(set) var request = Etcdserverpb_TxnRequest()
    private(set) var section: Section = .compares
    private(set) var finished = false

    /// Feeds one line (without its newline). A blank line ends the current section.
    mutating func feed(_ rawLine: String) throws {
        guard !finished else { return }
        let line = rawLine.trimmingCharacters(in: .whitespaces)
        if line.isEmpty {
            switch section {
            case .compares: section = .success
            case .success: section = .failure
            case .failure: finished = true
            }
            return
        }
        switch section {
        case .compares: request.compare.append(try TxnParser.compare(line))
        case .success: request.success.append(try TxnParser.op(line))
        case .failure: request.failure.append(try TxnParser.op(line))
        }
    }

    /// Parses a whole input text.
    static func parse(_ text: String) throws -> Etcdserverpb_TxnRequest {
        var p = TxnParser()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            try p.feed(String(line.hasSuffix("\r") ? line.dropLast() : line))
        }
        return p.request
    }

    // MARK: compares

    static func compare(_ line: String) throws -> Etcdserverpb_Compare {
        func bad(_ why: String) -> CLIError { CLIError("malformed comparison: \(line) (\(why))", code: .invalidInput) }
        guard let lparen = line.firstIndex(of: "(") else { throw bad("expected target(\"key\")") }
        let target = line[..<lparen].trimmingCharacters(in: .whitespaces)
        var rest = Substring(line[line.index(after: lparen)...]).drop { $0 == " " }
        guard let key = readQuoted(&rest) else { throw bad("expected a quoted key") }
        rest = rest.drop { $0 == " " }
        guard rest.first == ")" else { throw bad("expected ')' after the key") }
        rest = rest.dropFirst().drop { $0 == " " }
        let opText = rest.prefix { "=!<>".contains($0) }
        rest = rest.dropFirst(opText.count).drop { $0 == " " }
        let valueText: String
        if rest.first == "\"" {
            guard let v = readQuoted(&rest) else { throw bad("unterminated quoted value") }
            guard rest.allSatisfy({ $0 == " " }) else { throw bad("trailing text after the value") }
            valueText = v
        } else {
            valueText = rest.trimmingCharacters(in: .whitespaces)
        }

        var c = Etcdserverpb_Compare()
        c.key = Data(key.utf8)
        switch opText {
        case "=", "==": c.result = .equal
        case "!=": c.result = .notEqual
        case "<": c.result = .less
        case ">": c.result = .greater
        default: throw bad("unknown operator \(opText)")
        }
        func int() throws -> Int64 {
            guard let v = Int64(valueText) else { throw bad("expected an integer, got \(valueText)") }
            return v
        }
        switch target {
        case "ver", "version":
            c.target = .version
            c.version = try int()
        case "c", "create":
            c.target = .create
            c.createRevision = try int()
        case "m", "mod":
            c.target = .mod
            c.modRevision = try int()
        case "val", "value":
            c.target = .value
            c.value = Data(valueText.utf8)
        case "lease":
            c.target = .lease
            c.lease = try LeaseCommand.parseID(valueText)
        default:
            throw bad("unknown target \(target)")
        }
        return c
    }

    /// Reads a Go-style double-quoted string at the start of `s` (\" \\ \n \t escapes).
    static func readQuoted(_ s: inout Substring) -> String? {
        guard s.first == "\"" else { return nil }
        var out = ""
        var i = s.index(after: s.startIndex)
        while i < s.endIndex {
            let ch = s[i]
            if ch == "\"" {
                s = s[s.index(after: i)...]
                return out
            }
            if ch == "\\" {
                i = s.index(after: i)
                guard i < s.endIndex else { return nil }
                switch s[i] {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(s[i])
                }
            } else {
                out.append(ch)
            }
            i = s.index(after: i)
        }
        return nil
    }

    // MARK: ops

    static func op(_ line: String) throws -> Etcdserverpb_RequestOp {
        let args = try argify(line)
        guard let verb = args.first else { throw CLIError("empty operation", code: .invalidInput) }
        let rest = Array(args.dropFirst())
        var op = Etcdserverpb_RequestOp()
        do {
            switch verb {
            case "put": op.requestPut = try PutCommand.parse(rest).request()
            case "get": op.requestRange = try GetCommand.parse(rest).request()
            case "del", "delete": op.requestDeleteRange = try DelCommand.parse(rest).request()
            default: throw CLIError("unknown operation \"\(verb)\" in \(line)", code: .invalidInput)
            }
        } catch let e as CLIError {
            throw e
        } catch {
            throw CLIError("invalid operation \(line): \(GetCommand.message(for: error))", code: .invalidInput)
        }
        return op
    }

    /// Splits a line into words; double or single quotes group words (etcdctl's argify).
    static func argify(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for ch in line {
            if escaped {
                current.append(ch)
                escaped = false
                continue
            }
            if let q = quote {
                if ch == "\\" && q == "\"" {
                    escaped = true
                } else if ch == q {
                    quote = nil
                } else {
                    current.append(ch)
                }
                continue
            }
            if ch == "\"" || ch == "'" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if quote != nil { throw CLIError("unterminated quote in: \(line)", code: .invalidInput) }
        if inWord { words.append(current) }
        return words
    }
}
