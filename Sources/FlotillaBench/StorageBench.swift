import ArgumentParser

struct StorageBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "storage", abstract: "Storage benchmark (not yet written).")
    func run() throws { throw ValidationError("not yet written") }
}
