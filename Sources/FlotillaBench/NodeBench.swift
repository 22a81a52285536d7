import ArgumentParser
import Foundation
import Node

/// `flotilla-bench node …`: the node runtime's benchmarks (`NodeBenchmark`,
/// `SnapshotBenchmark`). `snapshot` runs the 1 GiB range snapshot transfer as three child
/// processes of this same binary (prepare, then sender | receiver over a pipe) so that each
/// side's peak RSS is measured on its own.
struct NodeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Node runtime benchmarks (in-process 3-node cluster; snapshot transfer).",
        subcommands: [Snapshot.self, SnapshotStep.self, Write.self, Idle.self])

    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Range snapshot transfer: MiB/s compressed and logical, peak RSS of sender and receiver.")
        @Option(help: "Logical size of the range in MiB.") var megabytes = 1024
        @Option(help: "Value size in bytes.") var valueBytes = 1024
        @Option(help: "Working directory (default: a fresh one under the temp dir, removed after).") var dir: String?
        @Flag(help: "Reuse the source data file of an earlier run in --dir (skips prepare).") var reuse = false

        func run() async throws {
            let work = dir ?? NSTemporaryDirectory() + "flotilla-snapbench-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: work) } }
            let me = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
            func child(_ args: [String]) -> Process {
                let p = Process()
                p.executableURL = me
                p.arguments = ["node", "snapshot-step"] + args
                return p
            }
            let fm = FileManager.default
            if !(reuse && fm.fileExists(atPath: work + "/src.db")) {
                let prepare = child(["prepare", "--path", work + "/src.db", "--megabytes", "\(megabytes)",
                                     "--value-bytes", "\(valueBytes)", "--report", work + "/prepare.txt"])
                try prepare.run()
                prepare.waitUntilExit()
                guard prepare.terminationStatus == 0 else { throw ValidationError("prepare failed") }
                print(try String(contentsOfFile: work + "/prepare.txt", encoding: .utf8))
            }
            try? fm.removeItem(atPath: work + "/dst.db")
            let pipe = Pipe()
            let sender = child(["send", "--path", work + "/src.db", "--report", work + "/send.txt"])
            sender.standardOutput = pipe
            let receiver = child(["receive", "--path", work + "/dst.db", "--staging", work + "/staging",
                                  "--report", work + "/receive.txt"])
            receiver.standardInput = pipe
            let t0 = Date()
            try receiver.run()
            try sender.run()
            sender.waitUntilExit()
            receiver.waitUntilExit()
            let wall = Date().timeIntervalSince(t0)
            guard sender.terminationStatus == 0, receiver.terminationStatus == 0 else {
                throw ValidationError("transfer failed (sender \(sender.terminationStatus), receiver \(receiver.terminationStatus))")
            }
            print(try String(contentsOfFile: work + "/send.txt", encoding: .utf8))
            print(try String(contentsOfFile: work + "/receive.txt", encoding: .utf8))
            print(String(format: "end to end (send, stage, ingest): %.2f s", wall))
        }
    }

    /// One side of `snapshot`, run as its own process.
    struct SnapshotStep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot-step", abstract: "Internal: one process of `node snapshot` (prepare, send, receive).")
        @Argument var step: String
        @Option var path: String
        @Option var report: String
        @Option var megabytes = 1024
        @Option var valueBytes = 1024
        @Option var staging: String?

        func run() async throws {
            let text: String
            switch step {
            case "prepare": text = try SnapshotBenchmark.prepare(path: path, megabytes: megabytes, valueBytes: valueBytes)
            case "send": text = try await SnapshotBenchmark.send(path: path, fd: 1)
            case "receive":
                text = try await SnapshotBenchmark.receive(path: path, stagingDirectory: staging ?? path + ".staging", fd: 0)
            default: throw ValidationError("unknown step \(step)")
            }
            try text.write(toFile: report, atomically: true, encoding: .utf8)
        }
    }

    struct Write: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write load on an in-process 3-node cluster.")
        @Option var ranges = 8
        @Option var writers = 64
        @Option var seconds = 10.0
        func run() async throws {
            print(try await NodeBenchmark.writeLoad(ranges: ranges, writers: writers, seconds: seconds))
        }
    }

    struct Idle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "CPU of quiesced ranges on an in-process 3-node cluster.")
        @Option var ranges = 2000
        @Option var seconds = 30.0
        func run() async throws {
            print(try await NodeBenchmark.idleCost(ranges: ranges, seconds: seconds))
        }
    }
}
