import ArgumentParser
import Base
import Foundation
import Server

/// `flotctl range list`: every range of the cluster (ID, span, replicas, leader, live
/// size and keys) through each endpoint's Admin service (`AdminProtocol.Op.ranges`).
/// Reports are merged by range ID; the leader's own report wins over followers'.
struct RangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "range", abstract: "Range (shard) related commands.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists every range with its span, replicas, leader, size and keys.")
        @OptionGroup var global: GlobalOptions

        static let header = ["RANGE ID", "START", "END", "REPLICAS", "LEADER", "SIZE", "KEYS"]

        /// One row per range ID, sorted by start key; a leader's report replaces a follower's.
        static func merge(_ reports: [[AdminProtocol.RangeInfo]]) -> [AdminProtocol.RangeInfo] {
            var byID: [RangeID: AdminProtocol.RangeInfo] = [:]
            for report in reports {
                for r in report {
                    if let seen = byID[r.rangeID], seen.isLeader || !r.isLeader { continue }
                    byID[r.rangeID] = r
                }
            }
            return byID.values.sorted { $0.startKey.lexicographicallyPrecedes($1.startKey) }
        }

        /// A key for display: printable ASCII as is, else 0x-hex; the empty start and the
        /// open end spelled out.
        static func display(_ key: [UInt8]?, isEnd: Bool) -> String {
            guard let key else { return "(end)" }
            if key.isEmpty { return isEnd ? "(end)" : "(start)" }
            if key.allSatisfy({ $0 >= 0x21 && $0 < 0x7f }) { return String(decoding: key, as: UTF8.self) }
            return "0x" + key.map { SimpleFormat.hex(UInt64($0), width: 2) }.joined()
        }

        static func row(_ r: AdminProtocol.RangeInfo) -> [String] {
            [String(r.rangeID.rawValue), display(r.startKey, isEnd: false), display(r.endKey, isEnd: true),
             r.replicas.map { String($0.rawValue) }.joined(separator: ","),
             r.leader == .none ? "unknown" : String(r.leader.rawValue), SimpleFormat.humanBytes(r.liveBytes),
             String(r.liveKeys)]
        }

        static func render(_ ranges: [AdminProtocol.RangeInfo], _ format: OutputFormat) -> String {
            switch format {
            case .simple: return ranges.map { row($0).joined(separator: ", ") + "\n" }.joined()
            case .table: return TableFormat.render(header: header, rows: ranges.map(row))
            case .json:
                return JSONValue.array(ranges.map { r in
                    var o = JSONObject()
                    o.always("id", .int(r.rangeID.rawValue))
                    o.always("start", .bytes(Data(r.startKey)))
                    o.always("end", r.endKey.map { .bytes(Data($0)) } ?? .null)
                    o.always("replicas", .array(r.replicas.map { .int($0.rawValue) }))
                    o.always("leader", .int(r.leader.rawValue))
                    o.always("size", .int(r.liveBytes))
                    o.always("keys", .int(r.liveKeys))
                    return o.value
                }).serialized + "\n"
            }
        }

        func run() async throws {
            do {
                let timeout = try global.dialDuration() + global.commandDuration()
                var reports: [[AdminProtocol.RangeInfo]] = []
                for e in try global.endpointList() {
                    let client = try AdminClient(address: .init(host: e.host, port: e.port))
                    defer { client.close() }
                    do {
                        reports.append(try await client.ranges(timeout: timeout))
                    } catch {
                        Console.err("Failed to list the ranges of endpoint \(e) (\(error))\n")
                    }
                }
                guard !reports.isEmpty else { throw CLIError("no endpoint answered", code: .badConnection) }
                Console.out(List.render(List.merge(reports), global.writeOut))
            } catch {
                Console.fail(error)
            }
        }
    }
}
