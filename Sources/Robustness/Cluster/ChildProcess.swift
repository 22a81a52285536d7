import Foundation

/// Runs a short-lived command (an operator's CLI call such as `flotctl transfer-leader`) on a
/// thread of its own, so waiting for it never blocks Swift's cooperative pool. Owns nothing.
enum ChildProcess {
    struct Outcome: Sendable {
        var status: Int32
        var output: String
    }

    /// Runs `executable` with `arguments`; stdout and stderr together in `output`. A command
    /// still running after `timeout` is terminated (status 15 / its own).
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(20)) async throws -> Outcome {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, any Error>) in
            Thread.detachNewThread {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: executable)
                p.arguments = arguments
                let pipe = Pipe()
                p.standardOutput = pipe
                p.standardError = pipe
                do {
                    try p.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
                let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                killer.cancel()
                continuation.resume(returning: Outcome(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
