import ArgumentParser

struct LZ4Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lz4", abstract: "LZ4 benchmark (not yet written).")
    func run() throws { throw ValidationError("not yet written") }
}
