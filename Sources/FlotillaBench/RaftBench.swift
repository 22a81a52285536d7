import ArgumentParser

struct RaftBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "raft", abstract: "Raft benchmark (not yet written).")
    func run() throws { throw ValidationError("not yet written") }
}
