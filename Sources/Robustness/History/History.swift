import Synchronization

/// A run's recorded operations from every client, in the order they were recorded.
/// Thread-safe recorder: clients append concurrently; the checkers read `operations`.
public final class HistoryRecorder: Sendable {
    private let state = Mutex<[HistoryOperation]>([])
    private let start: ContinuousClock.Instant

    public init(start: ContinuousClock.Instant = .now) { self.start = start }

    /// Nanoseconds since the run started (monotonic).
    public func now() -> Int64 {
        let d = ContinuousClock.now - start
        return d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
    }

    /// Appends one finished (or unknown) operation; returns its id.
    @discardableResult
    public func record(client: Int, call: Int64, ret: Int64, input: OpInput, output: OpOutput) -> Int {
        state.withLock { ops in
            let id = ops.count
            let returnTime = output.isUnknown ? Int64.max : ret
            ops.append(HistoryOperation(id: id, client: client, callTime: call, returnTime: returnTime, input: input, output: output))
            return id
        }
    }

    public var operations: [HistoryOperation] { state.withLock { $0 } }
}
