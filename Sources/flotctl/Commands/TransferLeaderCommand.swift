import ArgumentParser
import Base
import Foundation
import Server

/// `flotctl transfer-leader --range ID --to NODE`: asks the current leader of a range (found
/// through every endpoint's Admin `ranges` report) to hand its leadership to a replica
/// (`AdminProtocol.Op.transferLeader`), then waits until a node reports `NODE` as the
/// range's leader. Owns only its flags; the decisions are in `plan` and `leaderNow`.
struct TransferLeaderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer-leader", abstract: "Moves the leadership of a range to another replica.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The range whose leadership moves (see `flotctl range list`).") var range: UInt64
    @Option(help: "The node that should lead the range (one of its replicas).") var to: UInt64
    @Option(help: "How long to wait for the new leader (Go duration).") var wait: String = "10s"

    /// Where to send the request: the endpoint (index) whose node leads the range now.
    struct Plan: Equatable {
        var endpoint: Int
        var from: NodeID
        /// The target already leads: nothing to do.
        var alreadyDone: Bool
    }

    /// Picks the leader's endpoint from the per-endpoint reports (nil: endpoint did not
    /// answer), or fails with why the transfer cannot be asked for.
    static func plan(_ reports: [[AdminProtocol.RangeInfo]?], range: RangeID, to: NodeID) throws -> Plan {
        let infos = reports.enumerated().compactMap { i, r in r?.first { $0.rangeID == range }.map { (i, $0) } }
        guard let any = infos.first?.1 else {
            throw CLIError("range \(range.rawValue) not found on any endpoint", code: .invalidInput)
        }
        guard any.replicas.contains(to) else {
            throw CLIError(
                "node \(to.rawValue) is not a replica of range \(range.rawValue) (replicas: "
                    + any.replicas.map { String($0.rawValue) }.joined(separator: ",") + ")",
                code: .invalidInput)
        }
        guard let (endpoint, leader) = infos.first(where: { $0.1.isLeader }) else {
            throw CLIError("no endpoint leads range \(range.rawValue) now (election in progress, or the leader's endpoint is not in --endpoints)")
        }
        return Plan(endpoint: endpoint, from: leader.leader, alreadyDone: leader.leader == to)
    }

    /// The node that reports itself leader of `range`, if any.
    static func leaderNow(_ reports: [[AdminProtocol.RangeInfo]?], range: RangeID) -> NodeID? {
        reports.lazy.compactMap { $0?.first { $0.rangeID == range && $0.isLeader }?.leader }.first
    }

    static func reports(_ endpoints: [Endpoint], timeout: Duration) async -> [[AdminProtocol.RangeInfo]?] {
        var out: [[AdminProtocol.RangeInfo]?] = []
        for e in endpoints {
            guard let client = try? AdminClient(address: .init(host: e.host, port: e.port)) else {
                out.append(nil)
                continue
            }
            out.append(try? await client.ranges(timeout: timeout))
            client.close()
        }
        return out
    }

    func run() async throws {
        do {
            let endpoints = try global.endpointList()
            let timeout = try global.dialDuration() + global.commandDuration()
            let wait = try GoDuration.parse(wait, flag: "--wait")
            let rangeID = RangeID(range), target = NodeID(to)
            let plan = try TransferLeaderCommand.plan(await TransferLeaderCommand.reports(endpoints, timeout: timeout),
                                                      range: rangeID, to: target)
            if plan.alreadyDone {
                Console.out("node \(to) already leads range \(range)\n")
                return
            }
            let e = endpoints[plan.endpoint]
            let client = try AdminClient(address: .init(host: e.host, port: e.port))
            let reply: AdminProtocol.Reply
            do {
                reply = try await client.transferLeader(of: rangeID, to: target, timeout: timeout)
                client.close()
            } catch {
                client.close()
                throw CLIError("transfer-leader request to \(e) failed: \(error)", code: .badConnection)
            }
            switch reply.code {
            case .ok: break
            case .notLeader: throw CLIError("node \(plan.from.rawValue) no longer leads range \(range) (hint: node \(reply.number)); retry")
            case .rangeNotFound: throw CLIError("range \(range) not found on \(e)")
            default: throw CLIError("transfer-leader failed: \(reply.code) \(String(decoding: reply.payload, as: UTF8.self))")
            }
            let deadline = ContinuousClock.now + wait
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                if TransferLeaderCommand.leaderNow(await TransferLeaderCommand.reports(endpoints, timeout: timeout), range: rangeID) == target {
                    Console.out("Leadership of range \(range) transferred from node \(plan.from.rawValue) to node \(to)\n")
                    return
                }
            }
            throw CLIError("node \(to) did not become leader of range \(range) within \(self.wait)")
        } catch {
            Console.fail(error)
        }
    }
}
