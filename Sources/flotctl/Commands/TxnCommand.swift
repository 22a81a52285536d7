import ArgumentParser
import Foundation
import Proto

/// `flotctl txn [-i]`: reads a transaction in etcdctl's syntax from stdin (see `TxnParser`)
/// and runs it with KV.Txn. `-i` prints etcdctl's section prompts.
struct TxnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "txn", abstract: "Txn processes all the requests in one transaction.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("i"), .customLong("interactive")], help: "Input transaction in interactive mode.")
    var interactive = false

    static let prompts: [TxnParser.Section: String] = [
        .compares: "compares:\n", .success: "success requests (get, put, del):\n",
        .failure: "failure requests (get, put, del):\n",
    ]

    /// Reads the transaction from stdin, prompting for each section when interactive.
    func readRequest() throws -> Etcdserverpb_TxnRequest {
        var parser = TxnParser()
        var prompted: TxnParser.Section?
        while !parser.finished {
            if interactive, prompted != parser.section {
                Console.out(TxnCommand.prompts[parser.section] ?? "")
                prompted = parser.section
            }
            guard let line = readLine(strippingNewline: true) else { break }
            try parser.feed(line)
        }
        return parser.request
    }

    func render(_ r: Etcdserverpb_TxnResponse, _ format: OutputFormat) throws -> String {
        switch format {
        case .simple: return SimpleFormat.txn(r)
        case .json: return EtcdJSON.txn(r).serialized + "\n"
        case .table: throw CLIError.tableUnsupported
        }
    }

    func run() async throws {
        let cmd = self
        do {
            let req = try readRequest()
            Console.out(try await global.withSession { try cmd.render(try await $0.kv.txn(req), cmd.global.writeOut) })
        } catch {
            Console.fail(error)
        }
    }
}
