import API
import Synchronization

/// A store's watch backend that counts the feeds opened on it (how many watches reached the
/// backend: one per shared group, one per reconnect).
final class CountingWatch: EtcdWatchBackend, Sendable {
    let inner: SingleStoreBackend
    let opened = Mutex(0)
    init(_ inner: SingleStoreBackend) { self.inner = inner }
    func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
        opened.withLock { $0 += 1 }
        return try await inner.watch(spec)
    }
    func currentRevision() async throws -> Int64 { try await inner.currentRevision() }
}
