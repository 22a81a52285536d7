import ArgumentParser
import Foundation
import GRPCCore
import Proto

/// `flotctl watch key [range_end]`: one Watch stream, printing every event until SIGINT
/// (or until the server cancels the watch, e.g. a compacted start revision).
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Watches events stream on keys or prefixes.")

    @OptionGroup var global: GlobalOptions
    @Argument var key: String
    @Argument var rangeEnd: String?
    @Flag(help: "Watch on a prefix.") var prefix = false
    @Option(help: "Revision to start watching.") var rev: Int64 = 0
    @Flag(name: .customLong("prev-kv"), help: "Get the previous key-value pair before the event happens.") var prevKV = false

    func createRequest() throws -> Etcdserverpb_WatchCreateRequest {
        var c = Etcdserverpb_WatchCreateRequest()
        (c.key, c.rangeEnd) = try KeyRange.resolve(key: key, rangeEnd: rangeEnd, prefix: prefix, fromKey: false)
        c.startRevision = rev
        c.prevKv = prevKV
        return c
    }

    static func render(_ r: Etcdserverpb_WatchResponse, _ format: OutputFormat) throws -> String {
        switch format {
        case .simple: return SimpleFormat.watch(r)
        case .json: return EtcdJSON.watch(r).serialized + "\n"
        case .table: throw CLIError.tableUnsupported
        }
    }

    /// Runs one watch: `sink` gets each event batch's text and returns false to stop.
    /// Returns normally when `sink` stops it; throws when the server cancels the watch.
    static func stream(
        _ s: EtcdSession, _ create: Etcdserverpb_WatchCreateRequest, format: OutputFormat,
        sink: @Sendable @escaping (String) -> Bool
    ) async throws {
        if format == .table { throw CLIError.tableUnsupported }
        try await s.watch.watch(
            request: StreamingClientRequest { writer in
                var r = Etcdserverpb_WatchRequest()
                r.createRequest = create
                try await writer.write(r)
                // Hold the request side open: closing it ends the stream for the server.
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
            }
        ) { response in
            for try await m in response.messages {
                if m.canceled {
                    let reason = m.compactRevision > 0
                        ? "etcdserver: mvcc: required revision has been compacted"
                        : (m.cancelReason.isEmpty ? "canceled by the server" : m.cancelReason)
                    throw CLIError("watch is canceled by the server (\(reason))")
                }
                guard !m.events.isEmpty else { continue }
                if !sink(try render(m, format)) { return }
            }
        }
    }

    func run() async throws {
        Interrupt.exitOnSignal()
        let cmd = self
        do {
            let create = try createRequest()
            try await global.withSession(longRunning: true) { s in
                try await WatchCommand.stream(s, create, format: cmd.global.writeOut) { text in
                    Console.out(text)
                    return true
                }
            }
        } catch {
            Console.fail(error)
        }
    }
}
