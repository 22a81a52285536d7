import ArgumentParser
import Base
import Foundation
import GRPCCore
import Proto

/// `flotctl compaction REV [--physical]`: KV.Compact.
struct CompactionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compaction", abstract: "Compacts the event history in etcd.")
    @OptionGroup var global: GlobalOptions
    @Argument var revision: Int64
    @Flag(help: "'true' to wait for compaction to physically remove all old revisions.") var physical = false

    func execute(_ s: EtcdSession) async throws -> String {
        var r = Etcdserverpb_CompactionRequest()
        r.revision = revision
        r.physical = physical
        _ = try await s.kv.compact(r)
        return "compacted revision \(revision)\n"
    }

    func run() async throws {
        let cmd = self
        do { Console.out(try await global.withSession { try await cmd.execute($0) }) } catch { Console.fail(error) }
    }
}

/// `flotctl endpoint status`: Maintenance.Status of every endpoint in --endpoints.
struct EndpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "endpoint", abstract: "Endpoint related commands.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Prints out the status of endpoints specified in `--endpoints` flag.")
        @OptionGroup var global: GlobalOptions

        static func render(_ rows: [(endpoint: String, status: Etcdserverpb_StatusResponse)], _ format: OutputFormat) -> String {
            switch format {
            case .simple: return SimpleFormat.endpointStatus(rows)
            case .json: return EtcdJSON.endpointStatus(rows).serialized + "\n"
            case .table:
                return TableFormat.render(
                    header: TableFormat.statusHeader, rows: rows.map { SimpleFormat.statusRow(endpoint: $0.endpoint, $0.status) })
            }
        }

        func run() async throws {
            var rows: [(endpoint: String, status: Etcdserverpb_StatusResponse)] = []
            var failed = false
            do {
                let timeout = try global.dialDuration() + global.commandDuration()
                for e in try global.endpointList() {
                    do {
                        let st = try await EtcdSession.with(e, timeout: timeout) { try await $0.maintenance.status(Etcdserverpb_StatusRequest()) }
                        rows.append((e.description, st))
                    } catch {
                        failed = true
                        Console.err("Failed to get the status of endpoint \(e) (\(CLIError.from(error).message))\n")
                    }
                }
            } catch {
                Console.fail(error)
            }
            Console.out(Status.render(rows, global.writeOut))
            if failed { Console.fail(CLIError("unhealthy cluster")) }
        }
    }
}

/// `flotctl member list`: Cluster.MemberList.
struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "member", abstract: "Membership related commands.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists all members in the cluster.")
        @OptionGroup var global: GlobalOptions

        static func render(_ r: Etcdserverpb_MemberListResponse, _ format: OutputFormat) -> String {
            switch format {
            case .simple: return SimpleFormat.memberList(r)
            case .json: return EtcdJSON.memberList(r).serialized + "\n"
            case .table: return TableFormat.render(header: TableFormat.memberHeader, rows: r.members.map(SimpleFormat.memberRow))
            }
        }

        func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
            List.render(try await s.cluster.memberList(Etcdserverpb_MemberListRequest()), format)
        }

        func run() async throws {
            let cmd = self
            do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
        }
    }
}

/// `flotctl version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Prints the version of flotctl.")
    static let apiVersion = "3.4"
    @OptionGroup var global: GlobalOptions

    static var text: String { "flotctl version: \(FlotillaVersion.string)\nAPI version: \(apiVersion)\n" }

    func run() { Console.out(VersionCommand.text) }
}
