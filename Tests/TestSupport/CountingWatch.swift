public import API
public import Synchronization

/// A store's watch backend that counts the feeds opened on it (how many watches reached the
/// backend: one per shared group, one per reconnect).
public final class CountingWatch: EtcdWatchBackend, Sendable {
    public let inner: SingleStoreBackend
    public let opened = Mutex(0)
    public init(_ inner: SingleStoreBackend) { self.inner = inner }
    public func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
        opened.withLock { $0 += 1 }
        return try await inner.watch(spec)
    }
    public func currentRevision() async throws -> Int64 { try await inner.currentRevision() }
}
