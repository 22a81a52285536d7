import ArgumentParser
import Foundation

/// Output format of every verb (etcdctl's `--write-out`).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case simple, json, table
}

/// The flags every verb takes, spelled as etcdctl spells them. Owns nothing but their values.
struct GlobalOptions: ParsableArguments, Sendable {
    @Option(help: "gRPC endpoints, comma separated.")
    var endpoints: String = "127.0.0.1:2379"

    @Option(name: [.customShort("w"), .customLong("write-out")], help: "Output format: simple, json or table.")
    var writeOut: OutputFormat = .simple

    @Option(name: .customLong("dial-timeout"), help: "Dial timeout for client connections (Go duration: 2s, 500ms).")
    var dialTimeout: String = "2s"

    @Option(name: .customLong("command-timeout"), help: "Timeout for short-running commands (Go duration).")
    var commandTimeout: String = "5s"

    /// The endpoints as host:port pairs (an `http://` prefix is accepted and dropped).
    func endpointList() throws -> [Endpoint] {
        try endpoints.split(separator: ",").map { try Endpoint(parsing: String($0)) }
    }

    func dialDuration() throws -> Duration { try GoDuration.parse(dialTimeout, flag: "--dial-timeout") }
    func commandDuration() throws -> Duration { try GoDuration.parse(commandTimeout, flag: "--command-timeout") }

    func validate() throws {
        _ = try endpointList()
        _ = try dialDuration()
        _ = try commandDuration()
    }
}

/// One server address.
struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing raw: String) throws {
        var s = raw.trimmingCharacters(in: .whitespaces)
        for scheme in ["http://", "https://", "unix://"] where s.hasPrefix(scheme) { s.removeFirst(scheme.count) }
        while s.hasSuffix("/") { s.removeLast() }
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]),
              (1...65_535).contains(port), colon != s.startIndex
        else { throw ValidationError("invalid endpoint '\(raw)': expected host:port") }
        host = String(s[..<colon])
        self.port = port
    }

    var description: String { "\(host):\(port)" }

    /// Whether the host is a dotted IPv4 literal (else it is resolved by name).
    var isIPv4Literal: Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// Go's `time.ParseDuration` subset etcdctl users type: a sequence of number+unit pairs
/// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), decimals allowed, e.g. `1m30s`, `1.5s`.
enum GoDuration {
    static func parse(_ text: String, flag: String = "duration") throws -> Duration {
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var rest = Substring(text)
        var seconds = 0.0
        guard !rest.isEmpty else { throw ValidationError("\(flag): empty duration") }
        if rest == "0" { return .zero }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else {
                throw ValidationError("\(flag): invalid duration '\(text)'")
            }
            rest = rest.dropFirst(number.count)
            // Longest unit first so "ms" is not read as "m".
            guard let unit = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { rest.hasPrefix($0.0) }) else {
                throw ValidationError("\(flag): missing or unknown unit in duration '\(text)'")
            }
            rest = rest.dropFirst(unit.0.count)
            seconds += value * unit.1
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
