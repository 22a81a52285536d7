public import Foundation

/// Runs blocking or CPU-heavy test work (waiting for a child process, blocking pipe reads, a
/// long search) on a thread of its own and awaits its result. Swift's cooperative pool has
/// one thread per core — two on the CI machine — and on Linux Dispatch's global queues share
/// them, so a test that blocks a pool thread starves every other test's async work (servers
/// in the same process included) and their timeouts fire.
///
/// CPU-bound bodies (the default) also pass `CPUGate`: swift-testing starts every test at
/// once, and fifteen CPU-heavy threads on two cores left the pool's threads a few percent of
/// the CPU, so every async test waited ~90 s before its first step (gdb, session 8). Pass
/// `cpuBound: false` for a body that mostly waits (a child process, a socket): it skips the gate.
public func onOwnThread<T: Sendable>(cpuBound: Bool = true,
                                     _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            if cpuBound { CPUGate.shared.enter() }
            defer { if cpuBound { CPUGate.shared.leave() } }
            c.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// At most `slots` CPU-bound test bodies run at once: one core fewer than the machine has
/// (at least one), so the cooperative pool keeps a core for the async tests. Owns only its
/// semaphore; waiting happens on the caller's own thread, never on a pool thread.
public final class CPUGate: Sendable {
    public static let shared = CPUGate(slots: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))

    public let slots: Int
    private let semaphore: DispatchSemaphore

    public init(slots: Int) {
        self.slots = slots
        semaphore = DispatchSemaphore(value: slots)
    }

    public func enter() { semaphore.wait() }
    public func leave() { semaphore.signal() }
}
