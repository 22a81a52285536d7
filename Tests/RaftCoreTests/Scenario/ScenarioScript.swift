/// A scenario script: commands, each followed by the output it must produce.
///
/// Format (one file per scenario, `Tests/RaftCoreTests/testdata/*.txt`):
///
///     # comment lines and blank lines between cases are kept as they are
///     command arg arg key=value key=(1,2,3)
///     ----
///     expected output (one or more lines, none blank)
///
/// A case ends at the first blank line (or end of file) after `----`. Commands print
/// `ok` when they have nothing else to say, so expected output is never empty. Run with
/// `REWRITE=1` to regenerate every expected output in place (then review the diff).
struct ScenarioScript {
    enum Item {
        case verbatim(String)
        case testCase(ScenarioCase)
    }

    var items: [Item] = []

    init(parsing text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        while i < lines.count {
            let line = lines[i]
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                items.append(.verbatim(line))
                i += 1
                continue
            }
            // A command line, then "----", then output until a blank line.
            var c = ScenarioCase(command: trimmed, line: i + 1)
            i += 1
            if i < lines.count && lines[i].trimmingSpaces == "----" {
                i += 1
                while i < lines.count && !lines[i].trimmingSpaces.isEmpty {
                    c.expected.append(lines[i])
                    i += 1
                }
            }
            items.append(.testCase(c))
        }
        // Drop the empty string produced by a trailing newline.
        if case .verbatim("")? = items.last { items.removeLast() }
    }

    /// The script with every case's output replaced by `actual` (for REWRITE=1).
    func rendered(actual: [Int: [String]]) -> String {
        var out: [String] = []
        for item in items {
            switch item {
            case .verbatim(let line):
                out.append(line)
            case .testCase(let c):
                out.append(c.command)
                out.append("----")
                out.append(contentsOf: actual[c.line] ?? c.expected)
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}

/// One command with its expected output and where it sits in the file.
struct ScenarioCase {
    var command: String
    var line: Int
    var expected: [String] = []
}

/// A parsed command line: `name positional... key=value key=(a,b)`.
struct ScenarioCommand {
    var name: String
    var positional: [String] = []
    var keyed: [String: String] = [:]

    init(_ line: String) {
        var tokens: [String] = []
        var current = ""
        var depth = 0
        for ch in line {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == " " && depth == 0 {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        name = tokens.first ?? ""
        for t in tokens.dropFirst() {
            if let eq = t.firstIndex(of: "=") {
                keyed[String(t[..<eq])] = String(t[t.index(after: eq)...])
            } else {
                positional.append(t)
            }
        }
    }

    func ids(_ key: String) -> [UInt64]? {
        guard var v = keyed[key] else { return nil }
        if v.hasPrefix("(") { v.removeFirst() }
        if v.hasSuffix(")") { v.removeLast() }
        return v.split(whereSeparator: { $0 == "," || $0 == " " }).compactMap { UInt64($0) }
    }

    func int(_ key: String) -> Int? { keyed[key].flatMap { Int($0) } }

    func bool(_ key: String) -> Bool? { keyed[key].map { $0 == "true" } }

    var positionalIDs: [UInt64] { positional.compactMap { UInt64($0) } }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
