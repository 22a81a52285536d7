import Foundation
import Server
import Testing

/// `FLOTILLA_EXECUTOR`: the parsing, and that `flotilla serve` really runs its tasks on NIO's
/// event loops when asked (NIO's own installer silently did nothing in static builds).
@Suite struct GlobalExecutorTests {
    @Test func theEnvironmentChoosesTheExecutor() {
        #expect(GlobalExecutor.requested(in: [:]) == .default)
        #expect(GlobalExecutor.requested(in: ["FLOTILLA_EXECUTOR": ""]) == .default)
        #expect(GlobalExecutor.requested(in: ["FLOTILLA_EXECUTOR": "default"]) == .default)
        #expect(GlobalExecutor.requested(in: ["FLOTILLA_EXECUTOR": "nio"]) == .nio)
        #expect(GlobalExecutor.requested(in: ["FLOTILLA_EXECUTOR": "NIO"]) == nil)
    }
}

extension ClusterProcessSuites {
    @Suite(.serialized, .enabled(if: ClusterHarness.binaryExists, "build the flotilla product first"))
    struct ServeExecutorTests {
        /// Starts `flotilla serve` with `FLOTILLA_EXECUTOR=value` and returns its "executor"
        /// log line (then stops it). Runs on a thread of its own (blocking pipe reads).
        static func executorLine(_ value: String) async throws -> String {
            try await onOwnThread(cpuBound: false) {
                let dir = NSTemporaryDirectory() + "flotilla-executor-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: dir) }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: ClusterHarness.binary)
                p.arguments = ["serve", "--nodeID", "1", "--dataDir", dir, "--clientAddress", "127.0.0.1:0",
                               "--peerAddress", "127.0.0.1:0", "--metricsAddress", "127.0.0.1:0"]
                var env = ProcessInfo.processInfo.environment
                env["FLOTILLA_EXECUTOR"] = value
                p.environment = env
                let err = Pipe()
                p.standardError = err
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                var text = ""
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, !text.contains("tasksOnEventLoops=") {
                    let chunk = err.fileHandleForReading.availableData  // blocks this thread only
                    if chunk.isEmpty { break }  // exited
                    text += String(decoding: chunk, as: UTF8.self)
                }
                if p.isRunning { p.terminate() }
                p.waitUntilExit()
                return text.split(separator: "\n").first { $0.contains("tasksOnEventLoops=") }.map(String.init) ?? text
            }
        }

        @Test func nioRunsTasksOnTheEventLoops() async throws {
            let line = try await Self.executorLine("nio")
            #expect(line.contains("executor=nio") && line.contains("tasksOnEventLoops=true"), "\(line)")
        }

        @Test func defaultKeepsTheCooperativePool() async throws {
            let line = try await Self.executorLine("default")
            #expect(line.contains("executor=default") && line.contains("tasksOnEventLoops=false"), "\(line)")
        }
    }
}
