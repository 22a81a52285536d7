import Foundation
import TestSupport

/// Runs the `flotctl` binary built next to `flotilla` (.build/debug/flotctl) to completion,
/// without blocking a thread of the cooperative pool (the exit arrives through the
/// termination handler).
enum Flotctl {
    static var binary: String {
        URL(fileURLWithPath: ClusterHarness.binary).deletingLastPathComponent().appendingPathComponent("flotctl").path
    }

    static var exists: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    struct Result: Sendable {
        var status: Int32
        var out: String
        var err: String
        var lines: [String] { out.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    }

    static func run(_ args: [String]) async throws -> Result {
        let outURL = Etcdctl.tempFile("flotctl-out")
        let errURL = Etcdctl.tempFile("flotctl-err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { c in
            p.terminationHandler = { c.resume(returning: $0.terminationStatus) }
            do { try p.run() } catch { c.resume(throwing: error) }
        }
        return Result(
            status: status, out: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            err: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
