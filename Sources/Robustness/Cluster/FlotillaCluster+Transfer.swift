import Foundation
import GRPCCore

/// The `transfer-leader` fault on Flotilla, done the way an operator would: `flotctl range
/// list -w json` finds who leads what, then one `flotctl transfer-leader` per range moves
/// every range the busiest node leads (the system range included) to another of its
/// replicas, all at once. `flotctl` is taken from beside the `flotilla` executable.
extension FlotillaCluster {
    /// A range as `flotctl range list -w json` reports it.
    struct RangeLeadership: Equatable {
        var id: UInt64
        var replicas: [UInt64]
        var leader: UInt64
    }

    var flotctlPath: String {
        URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("flotctl").path
    }

    public func transferLeadership(pick: Int) async throws -> String {
        let flotctl = flotctlPath
        guard FileManager.default.isExecutableFile(atPath: flotctl) else {
            throw RPCError(code: .failedPrecondition, message: "transfer-leader needs flotctl beside flotilla: \(flotctl) not found")
        }
        let endpoints = clientEndpoints.joined(separator: ",")
        let listed = try await ChildProcess.run(flotctl, ["--endpoints", endpoints, "-w", "json", "range", "list"])
        guard listed.status == 0 else {
            throw RPCError(code: .unavailable, message: "flotctl range list failed (\(listed.status)): \(listed.output)")
        }
        let ranges = try Self.parseRanges(listed.output)
        let moves = Self.planMoves(ranges, pick: pick)
        guard !moves.isEmpty else { return "transfer-leader: no range has a known leader with another replica" }
        let outcomes = await withTaskGroup(of: (UInt64, Int32, String).self) { group in
            for m in moves {
                group.addTask {
                    let args = ["--endpoints", endpoints, "transfer-leader", "--range", String(m.range), "--to", String(m.to), "--wait", "5s"]
                    let o = try? await ChildProcess.run(flotctl, args)
                    return (m.range, o?.status ?? -1, o?.output ?? "could not start flotctl")
                }
            }
            var all: [(UInt64, Int32, String)] = []
            for await o in group { all.append(o) }
            return all.sorted { $0.0 < $1.0 }
        }
        let failed = outcomes.filter { $0.1 != 0 }
        let from = moves[0].from
        var line = "moved leadership of \(moves.count) ranges from node \(from): "
            + moves.map { "r\($0.range)->n\($0.to)" }.joined(separator: " ")
            + "; \(moves.count - failed.count) done"
        if !failed.isEmpty {
            let first = failed[0].2.split(separator: "\n").first.map(String.init) ?? ""
            line += ", \(failed.count) not confirmed (e.g. range \(failed[0].0): \(first))"
        }
        return line
    }

    /// The ranges of `flotctl range list -w json` (an array of {id, replicas, leader, …}).
    static func parseRanges(_ json: String) throws -> [RangeLeadership] {
        guard let array = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
            throw RPCError(code: .internalError, message: "flotctl range list: not a JSON array: \(json.prefix(200))")
        }
        return array.compactMap { o in
            guard let id = (o["id"] as? NSNumber)?.uint64Value, let leader = (o["leader"] as? NSNumber)?.uint64Value,
                let replicas = o["replicas"] as? [NSNumber]
            else { return nil }
            return RangeLeadership(id: id, replicas: replicas.map(\.uint64Value), leader: leader)
        }
    }

    /// Every range led by the node leading most ranges (ties: lowest node ID), each to one of
    /// its other replicas in turn, starting at `pick`, so the moved leaderships spread.
    static func planMoves(_ ranges: [RangeLeadership], pick: Int = 0) -> [(range: UInt64, from: UInt64, to: UInt64)] {
        var counts: [UInt64: Int] = [:]
        for r in ranges where r.leader != 0 { counts[r.leader, default: 0] += 1 }
        guard let busiest = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) })?.key else { return [] }
        let offset = max(pick, 0)
        var moves: [(range: UInt64, from: UInt64, to: UInt64)] = []
        for (i, r) in ranges.sorted(by: { $0.id < $1.id }).filter({ $0.leader == busiest }).enumerated() {
            let others = r.replicas.filter { $0 != busiest }.sorted()
            guard !others.isEmpty else { continue }
            moves.append((r.id, busiest, others[(i + offset) % others.count]))
        }
        return moves
    }
}
