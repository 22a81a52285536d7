#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

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

    /// The thread holding the lock (0 = none), to turn a nested `update` / `check` on the
    /// same thread into a clear failure instead of a silent deadlock.
    private let owner = Atomic<UInt>(0)

    func lock() {
        #if canImport(Darwin)
        let me = UInt(bitPattern: pthread_self())
        #else
        let me = UInt(pthread_self())
        #endif
        precondition(owner.load(ordering: .relaxed) != me,
                     "PageFile.update/check/sync/close called inside an update on the same thread (would deadlock)")
        pthread_mutex_lock(mutex)
        owner.store(me, ordering: .relaxed)
    }

    func unlock() {
        owner.store(0, ordering: .relaxed)
        pthread_mutex_unlock(mutex)
    }
}
