public import Foundation

/// Runs the real `etcdctl` (Debian `etcd-client`, v3 API) against a server in this process.
public enum Etcdctl {
    public static let path = "/usr/bin/etcdctl"
    public static var installed: Bool { FileManager.default.isExecutableFile(atPath: path) }

    public struct Result: Sendable {
        public var status: Int32
        public var out: String
        public var err: String
        public var lines: [String] { out.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    }

    public static func environment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["ETCDCTL_API"] = "3"
        return env
    }

    public static func tempFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-\(UUID().uuidString)-\(name)")
    }

    /// Runs `etcdctl --endpoints=<endpoint> args...` to completion.
    public static func run(_ args: [String], endpoint: String, stdin: String? = nil) async throws -> Result {
        try await runProcess(
            path, ["--endpoints=\(endpoint)", "--dial-timeout=3s", "--command-timeout=10s"] + args,
            environment: environment(), stdin: stdin)
    }

    /// Runs `executable` to completion without blocking a thread of the cooperative pool (the
    /// exit arrives through the termination handler); output goes through temporary files.
    public static func runProcess(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil
    ) async throws -> Result {
        let outURL = tempFile("out")
        let errURL = tempFile("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        let input = Pipe()
        p.standardInput = input
        let status: Int32 = try await withCheckedThrowingContinuation { c in
            p.terminationHandler = { c.resume(returning: $0.terminationStatus) }
            do {
                try p.run()
                if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
                try input.fileHandleForWriting.close()
            } catch {
                c.resume(throwing: error)
            }
        }
        return Result(
            status: status, out: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            err: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// A long-running `etcdctl` (watch) whose output accumulates in a file.
    /// `@unchecked Sendable`: `Process` is not Sendable; a test starts, reads and stops it
    /// from its own task only, and the output file is read, never shared.
    public final class Background: @unchecked Sendable {
        public let process: Process
        public let outURL: URL


        public init(_ args: [String], endpoint: String) throws {
            outURL = Etcdctl.tempFile("watch")
            _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
            process = Process()
            process.executableURL = URL(fileURLWithPath: Etcdctl.path)
            process.arguments = ["--endpoints=\(endpoint)", "--dial-timeout=3s"] + args
            process.environment = Etcdctl.environment()
            process.standardOutput = try FileHandle(forWritingTo: outURL)
            process.standardError = try FileHandle(forWritingTo: outURL)
            try process.run()
        }

        public var output: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
        public var lines: [String] { output.split(separator: "\n").map(String.init) }

        /// Waits until the output has at least `count` lines (or `timeout` passes).
        public func waitForLines(_ count: Int, timeout: Duration = .seconds(10)) async -> [String] {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let l = lines
                if l.count >= count { return l }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return lines
        }

        public func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: outURL)
        }
    }
}

