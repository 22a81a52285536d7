import CExecutorHook
import Foundation
import NIOCore
import NIOPosix

/// Which threads run the process's Swift tasks. Owns the one-time choice, made at start-up
/// of `flotilla serve` from `FLOTILLA_EXECUTOR`:
/// - `nio`: NIO's singleton event loops — the threads that
///   already run the gRPC client port, the peer transport and the metrics server — become
///   the global executor, so a request's hops between its socket's event loop and its
///   handler task stay on one thread instead of waking a cooperative-pool thread each way
///   (notes-grpc-swift.md: ~11 → ~2 context switches per unary call);
/// - `default` (when unset): Swift's cooperative pool.
///
/// Installed through `CExecutorHook` (a link-time reference to the runtime's
/// `swift_task_enqueueGlobal_hook`), because NIO's own installer looks the hook up with
/// `dlsym` and silently fails in `--static-swift-stdlib` binaries (docs/bench.md, session 7).
/// Delayed jobs (`Task.sleep`) are not hooked: they resume on the runtime's timer threads
/// and enqueue their next step here.
///
/// With `nio`, a task that blocks stalls the sockets of its event loop: blocking work (the
/// poll loop, WAL sync, node stop) runs on threads of its own.
public enum GlobalExecutor {
    /// The environment variable read by `installFromEnvironment`.
    public static let environmentKey = "FLOTILLA_EXECUTOR"

    /// The executor choice.
    public enum Kind: String, Sendable {
        case nio
        case `default`
    }

    /// The choice `environment` asks for (`default` when unset); nil for an unknown value.
    public static func requested(in environment: [String: String]) -> Kind? {
        guard let value = environment[environmentKey], !value.isEmpty else { return .default }
        return Kind(rawValue: value)
    }

    /// Installs the executor the environment asks for; returns the one in use (`default`
    /// if installing failed). Call once, first thing in `flotilla serve`.
    public static func installFromEnvironment() throws -> Kind {
        guard let kind = requested(in: ProcessInfo.processInfo.environment) else {
            throw GlobalExecutorError.unknown(ProcessInfo.processInfo.environment[environmentKey] ?? "")
        }
        guard kind == .nio else { return .default }
        return installNIO() ? .nio : .default
    }

    /// Makes NIO's singleton event loops the global executor. False if another hook is
    /// already installed.
    static func installNIO() -> Bool {
        flotilla_install_global_enqueue_hook { job in
            // `EventLoopGroup.any()` is sticky: a job enqueued from one of the group's loops
            // stays on that loop (no thread switch); from any other thread it picks the next.
            let unowned = unsafeBitCast(job, to: UnownedJob.self)
            MultiThreadedEventLoopGroup.singleton.any().enqueue(ExecutorJob(unowned))
        }
    }

    /// Whether tasks currently run on NIO's event loops: checked by starting a task and
    /// asking where it runs (a live check of the hook, for the start-up log).
    public static func tasksRunOnEventLoops() async -> Bool {
        await Task.detached { MultiThreadedEventLoopGroup.currentEventLoop != nil }.value
    }
}

/// An unknown `FLOTILLA_EXECUTOR` value.
public enum GlobalExecutorError: Error, CustomStringConvertible {
    case unknown(String)

    public var description: String {
        switch self {
        case .unknown(let v): "\(GlobalExecutor.environmentKey)=\(v): expected nio or default"
        }
    }
}
