public import Foundation

/// Runs blocking or CPU-heavy test work (waiting for a child process, blocking pipe reads, a
/// long search) on a thread of its own and awaits its result. Swift's cooperative pool has
/// one thread per core — two on the CI machine — and on Linux Dispatch's global queues share
/// them, so a test that blocks a pool thread starves every other test's async work (servers
/// in the same process included) and their timeouts fire.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let thread = Thread { c.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
