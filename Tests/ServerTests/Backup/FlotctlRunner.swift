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

    typealias Result = Etcdctl.Result

    static func run(_ args: [String]) async throws -> Result {
        try await Etcdctl.runProcess(binary, args)
    }
}
