#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lock that makes write transactions one-at-a-time. A plain pthread mutex because the
/// critical section spans the caller's closure (which `Mutex.withLock` cannot express with
/// arbitrary non-Sendable results).
final class WriterLock: @unchecked Sendable {
    // @unchecked Sendable: the pthread mutex is itself thread-safe; the pointer never changes.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}
