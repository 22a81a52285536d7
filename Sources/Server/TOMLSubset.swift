/// A parser for the subset of TOML that Flotilla's config files use: `# comments`,
/// `[table]` headers, and `key = value` where value is an integer (with `_`), a float,
/// `true`/`false`, a basic "string", or a one-line array of those. Keys come out as
/// `table.key`. Pure; owns nothing. (Full TOML would need a dependency; this subset keeps
/// the composition root dependency-free and is easy to test.)
public enum TOMLSubset {
    public enum Value: Sendable, Equatable {
        case integer(Int)
        case float(Double)
        case bool(Bool)
        case string(String)
        case array([Value])
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "config line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> [String: Value] {
        var out: [String: Value] = [:]
        var table = ""
        for (i, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = stripComment(String(rawLine)).trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else {
                    throw ParseError(line: i + 1, message: "unsupported table header \(line)")
                }
                table = String(line.dropFirst().dropLast()).trimmingSpaces
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw ParseError(line: i + 1, message: "expected key = value")
            }
            let key = String(line[..<eq]).trimmingSpaces
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw ParseError(line: i + 1, message: "bad key '\(key)'")
            }
            let full = table.isEmpty ? key : "\(table).\(key)"
            guard out[full] == nil else { throw ParseError(line: i + 1, message: "duplicate key \(full)") }
            do throws(ValueError) {
                out[full] = try value(String(line[line.index(after: eq)...]).trimmingSpaces)
            } catch {
                throw ParseError(line: i + 1, message: "\(full): \(error.message)")
            }
        }
        return out
    }

    struct ValueError: Error { var message: String }

    /// Parses one value (also used for `--set key=value` overrides).
    public static func parseValue(_ text: String) -> Value? { try? value(text.trimmingSpaces) }

    static func value(_ s: String) throws(ValueError) -> Value {
        if s.hasPrefix("\"") {
            guard s.count >= 2, s.hasSuffix("\"") else { throw ValueError(message: "unterminated string") }
            return .string(unescape(String(s.dropFirst().dropLast())))
        }
        if s.hasPrefix("[") {
            guard s.hasSuffix("]") else { throw ValueError(message: "unterminated array") }
            let inner = String(s.dropFirst().dropLast())
            var items: [Value] = []
            for part in splitTopLevel(inner) where !part.trimmingSpaces.isEmpty {
                items.append(try value(part.trimmingSpaces))
            }
            return .array(items)
        }
        if s == "true" { return .bool(true) }
        if s == "false" { return .bool(false) }
        let digits = s.replacingUnderscores
        if let i = Int(digits) { return .integer(i) }
        if let d = Double(digits) { return .float(d) }
        throw ValueError(message: "cannot parse value '\(s)'")
    }

    static func splitTopLevel(_ s: String) -> [String] {
        var parts: [String] = []
        var cur = ""
        var inString = false
        for c in s {
            if c == "\"" { inString.toggle() }
            if c == "," && !inString {
                parts.append(cur)
                cur = ""
            } else {
                cur.append(c)
            }
        }
        parts.append(cur)
        return parts
    }

    static func stripComment(_ line: String) -> String {
        var inString = false
        var out = ""
        for c in line {
            if c == "\"" { inString.toggle() }
            if c == "#" && !inString { break }
            out.append(c)
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = ""
        var escaping = false
        for c in s {
            if escaping {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
