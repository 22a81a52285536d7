/// Watch feeds: one `WatchCursor` per watcher over the store's history, woken by the hub.
extension SingleStoreBackend: EtcdWatchBackend {
    public func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
        let start = spec.startRevision > 0 ? spec.startRevision : store.currentRevision + 1
        let cursor = WatchCursor(store: store, hub: hub, spec: spec, start: start, batchEvents: config.watchBatchEvents)
        return WatchEventStream { try await cursor.next() }
    }

    public func currentRevision() async throws -> Int64 { store.currentRevision }
}
