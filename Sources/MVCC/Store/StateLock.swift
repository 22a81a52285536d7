#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex; `withLock` is the only access path.
///
/// Why not `Synchronization.Mutex`: its `withLock` requires `sending` results and state,
/// which the store's non-Sendable index (class-based B-tree nodes) and generic results
/// cannot satisfy without copying. `@unchecked Sendable` is safe because `value` is only
/// read or written inside `withLock` while `mutex` is held, and nothing hands out a
/// reference to it beyond the closure.
final class StateLock<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
