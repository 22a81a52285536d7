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

/// `flotctl snapshot save FILE` (Maintenance.Snapshot to a file, written to FILE.part and
/// renamed when complete) and `snapshot restore` (not supported yet: Flotilla's server has
/// no restore path for its snapshot format).
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshot", abstract: "Manages etcd node snapshots.", subcommands: [Save.self, Restore.self])

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "save", abstract: "Stores an etcd node backend snapshot to a given file.")
        @OptionGroup var global: GlobalOptions
        @Argument var file: String

        /// Streams the snapshot into `file`; returns the bytes written.
        static func save(_ s: EtcdSession, to file: String) async throws -> Int {
            let part = file + ".part"
            _ = FileManager.default.createFile(atPath: part, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: part) else { throw CLIError("could not open \(part)") }
            let total: Int
            do {
                total = try await s.maintenance.snapshot(Etcdserverpb_SnapshotRequest()) { response in
                    var n = 0
                    for try await chunk in response.messages {
                        try handle.write(contentsOf: chunk.blob)
                        n += chunk.blob.count
                    }
                    return n
                }
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: part)
                throw error
            }
            // etcd's stream is page-aligned content + a 32-byte SHA-256 trailer.
            guard total >= 32, (total - 32) % 512 == 0 else {
                try? FileManager.default.removeItem(atPath: part)
                throw CLIError("snapshot stream has an unexpected size (\(total) bytes)")
            }
            if FileManager.default.fileExists(atPath: file) { try FileManager.default.removeItem(atPath: file) }
            try FileManager.default.moveItem(atPath: part, toPath: file)
            return total
        }

        func run() async throws {
            let cmd = self
            do {
                // A snapshot may take longer than a short command: bounded by the dial timeout only.
                _ = try await global.withSession(longRunning: true) { try await Save.save($0, to: cmd.file) }
                Console.out("Snapshot saved at \(file)\n")
            } catch {
                Console.fail(error)
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restores an etcd member snapshot to an etcd directory.")
        @OptionGroup var global: GlobalOptions
        @Argument var file: String
        @Option(name: .customLong("data-dir"), help: "Path to the data directory.") var dataDir: String = ""

        /// Why restore is refused (etcdctl's exit code 4, unsupported feature).
        static func unsupported(_ file: String) -> String {
            "snapshot restore is not supported yet: a Flotilla snapshot (FLOTSNAP: every local range's MVCC "
                + "segments) can only be restored by a server bootstrap path that seeds range descriptors, Raft "
                + "state and the system range (revision oracle, leases) from it, and that path does not exist; "
                + "\(file) was not read"
        }

        func run() async throws {
            Console.fail(CLIError(Restore.unsupported(file), code: .badFeature))
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
