import ArgumentParser
import Foundation
import GRPCCore
import Proto
import Synchronization

/// `flotctl lease grant|revoke|timetolive|keep-alive|list`: the Lease service. Lease IDs
/// are printed and parsed in hexadecimal, as etcdctl does.
struct LeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease", abstract: "Lease related commands.",
        subcommands: [Grant.self, Revoke.self, TimeToLive.self, KeepAlive.self, List.self])

    /// A lease ID as etcdctl takes it: hexadecimal, no prefix.
    static func parseID(_ s: String) throws -> Int64 {
        guard let v = UInt64(s, radix: 16) else { throw CLIError("bad lease ID arg (\(s)), expecting ID in Hex", code: .invalidInput) }
        return Int64(bitPattern: v)
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant", abstract: "Creates leases.")
        @OptionGroup var global: GlobalOptions
        @Argument var ttl: Int64

        func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
            var r = Etcdserverpb_LeaseGrantRequest()
            r.ttl = ttl
            let resp = try await s.lease.leaseGrant(r)
            switch format {
            case .simple: return SimpleFormat.leaseGrant(resp)
            case .json: return EtcdJSON.leaseGrant(resp).serialized + "\n"
            case .table: throw CLIError.tableUnsupported
            }
        }

        func run() async throws {
            let cmd = self
            do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revokes leases.")
        @OptionGroup var global: GlobalOptions
        @Argument var leaseID: String

        func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
            var r = Etcdserverpb_LeaseRevokeRequest()
            r.id = try LeaseCommand.parseID(leaseID)
            let resp: Etcdserverpb_LeaseRevokeResponse
            do { resp = try await s.lease.leaseRevoke(r) } catch {
                throw CLIError("failed to revoke lease (\(CLIError.from(error).message))")
            }
            switch format {
            case .simple: return SimpleFormat.leaseRevoke(id: r.id)
            case .json: return EtcdJSON.leaseRevoke(resp).serialized + "\n"
            case .table: throw CLIError.tableUnsupported
            }
        }

        func run() async throws {
            let cmd = self
            do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
        }
    }

    struct TimeToLive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "timetolive", abstract: "Get lease information.")
        @OptionGroup var global: GlobalOptions
        @Argument var leaseID: String
        @Flag(help: "Get keys attached to this lease.") var keys = false

        func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
            var r = Etcdserverpb_LeaseTimeToLiveRequest()
            r.id = try LeaseCommand.parseID(leaseID)
            r.keys = keys
            let resp = try await s.lease.leaseTimeToLive(r)
            switch format {
            case .simple: return SimpleFormat.leaseTimeToLive(resp, keys: keys)
            case .json: return EtcdJSON.leaseTimeToLive(resp).serialized + "\n"
            case .table: throw CLIError.tableUnsupported
            }
        }

        func run() async throws {
            let cmd = self
            do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List all active leases.")
        @OptionGroup var global: GlobalOptions

        func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
            let resp = try await s.lease.leaseLeases(Etcdserverpb_LeaseLeasesRequest())
            switch format {
            case .simple: return SimpleFormat.leaseLeases(resp)
            case .json: return EtcdJSON.leaseLeases(resp).serialized + "\n"
            case .table: throw CLIError.tableUnsupported
            }
        }

        func run() async throws {
            let cmd = self
            do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
        }
    }

    /// Renews the lease on one LeaseKeepAlive stream, every TTL/3 seconds (at least every
    /// 500 ms), printing each renewal, until SIGINT; `--once` renews once.
    struct KeepAlive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "keep-alive", abstract: "Keeps leases alive (renew).")
        @OptionGroup var global: GlobalOptions
        @Argument var leaseID: String
        @Flag(help: "Resets the keep-alive time to its original value and exits immediately.") var once = false

        func render(_ r: Etcdserverpb_LeaseKeepAliveResponse, _ format: OutputFormat) throws -> String {
            switch format {
            case .simple: return SimpleFormat.leaseKeepAlive(r)
            case .json: return EtcdJSON.leaseKeepAlive(r).serialized + "\n"
            case .table: throw CLIError.tableUnsupported
            }
        }

        /// Sends keep-alives; `sink` gets each renewal's text and returns false to stop.
        /// `maxCount` bounds the renewals (1 for --once).
        func stream(_ s: EtcdSession, _ format: OutputFormat, maxCount: Int?,
                    sink: @Sendable @escaping (String) -> Bool) async throws {
            let id = try LeaseCommand.parseID(leaseID)
            let interval = TTLInterval()
            let cmd = self
            try await s.lease.leaseKeepAlive(
                requestProducer: { writer in
                    var sent = 0
                    while !Task.isCancelled {
                        var r = Etcdserverpb_LeaseKeepAliveRequest()
                        r.id = id
                        try await writer.write(r)
                        sent += 1
                        if let maxCount, sent >= maxCount { break }
                        try await Task.sleep(for: interval.value)
                    }
                    while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
                },
                onResponse: { response in
                    var received = 0
                    for try await m in response.messages {
                        if m.ttl <= 0 {
                            if maxCount == 1 { throw CLIError("etcdserver: requested lease not found") }
                            _ = sink("lease \(SimpleFormat.leaseID(id)) expired or revoked.\n")
                            return
                        }
                        interval.update(ttl: m.ttl)
                        received += 1
                        if !sink(try cmd.render(m, format)) { return }
                        if let maxCount, received >= maxCount { return }
                    }
                })
        }

        func run() async throws {
            Interrupt.exitOnSignal()
            let cmd = self
            do {
                try await global.withSession(longRunning: !once) { s in
                    try await cmd.stream(s, cmd.global.writeOut, maxCount: cmd.once ? 1 : nil) { text in
                        Console.out(text)
                        return true
                    }
                }
            } catch {
                Console.fail(error)
            }
        }
    }
}

/// The keep-alive period: a third of the last TTL the server granted, at least 500 ms.
/// Shared by the stream's writer and reader tasks.
final class TTLInterval: Sendable {
    private let milliseconds = Mutex<Int64>(500)
    var value: Duration { .milliseconds(milliseconds.withLock { $0 }) }
    func update(ttl: Int64) { milliseconds.withLock { $0 = max(500, ttl * 1000 / 3) } }
}
