import Foundation

/// A JSON document with ordered object members, serialized compactly the way Go's
/// `encoding/json` does (etcdctl's `-w json`): integers as plain numbers (64-bit, no
/// float rounding), byte strings as standard base64. Owns only its value.
indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// An integer already rendered in decimal (Int64 and UInt64 both fit).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func int<T: BinaryInteger>(_ v: T) -> JSONValue { .number(String(v)) }
    static func bytes(_ d: Data) -> JSONValue { .string(d.base64EncodedString()) }

    static func == (a: JSONValue, b: JSONValue) -> Bool { a.serialized == b.serialized }

    var serialized: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += "," }
                JSONValue.quote(k, into: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"  // Go escapes HTML characters
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// Builds a JSON object member list with Go's `omitempty`: zero numbers, false, empty
/// strings/arrays and nil are left out.
struct JSONObject {
    var members: [(String, JSONValue)] = []

    mutating func always(_ key: String, _ v: JSONValue) { members.append((key, v)) }

    mutating func omitEmpty<T: BinaryInteger>(_ key: String, _ v: T) { if v != 0 { members.append((key, .int(v))) } }
    mutating func omitEmpty(_ key: String, _ v: Bool) { if v { members.append((key, .bool(true))) } }
    mutating func omitEmpty(_ key: String, _ v: String) { if !v.isEmpty { members.append((key, .string(v))) } }
    mutating func omitEmpty(_ key: String, bytes v: Data) { if !v.isEmpty { members.append((key, .bytes(v))) } }
    mutating func omitEmpty(_ key: String, _ v: [JSONValue]) { if !v.isEmpty { members.append((key, .array(v))) } }
    mutating func omitEmpty(_ key: String, _ v: JSONValue?) { if let v { members.append((key, v)) } }

    var value: JSONValue { .object(members) }
}
