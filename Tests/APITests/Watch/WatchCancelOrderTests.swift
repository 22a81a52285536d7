import API
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Proto
import Synchronization
import Testing

/// Regression from the robustness harness (session 3, `--target flotilla --fault kill-leader
/// --seed 311`, 32 clients): a watcher from a compacted revision received `created`, then a
/// stream-wide progress notification (watch ID -1) at the current revision, then its cancel
/// (compact_revision). The session dropped the watcher before queueing the cancel, so a
/// RequestProgress arriving meanwhile (the cancel waits for a fresh revision, slow during a
/// fault) saw no watcher and promised the current revision: a bookmark above events the
/// watcher never delivered.
@Suite struct WatchCancelOrderTests {
    /// A watch backend whose every feed is compacted at 82 and whose current revision (320)
    /// is slow on the second call (the cancel's header) and quick after.
    final class CompactedFeedBackend: EtcdWatchBackend, Sendable {
        let calls = Mutex(0)
        func watch(_ spec: WatchSpec) async throws -> WatchEventStream {
            let done = Mutex(false)
            return WatchEventStream {
                if done.withLock({ let d = $0; $0 = true; return d }) { return nil }
                return .compacted(compactRevision: 82)
            }
        }
        func currentRevision() async throws -> Int64 {
            let n = calls.withLock { $0 += 1; return $0 }
            if n == 2 { try await Task.sleep(for: .milliseconds(800)) } else if n > 2 { try await Task.sleep(for: .milliseconds(50)) }
            return 320
        }
    }

    @Test func noProgressAboveAWatchersSyncedRevisionBeforeItsCancel() async throws {
        let store = try SingleStoreBackend.inMemory()
        let transport = InProcessTransport()
        let services = EtcdServer.services(
            kv: store, watch: CompactedFeedBackend(), lease: store, cluster: store, maintenance: store)
        try await withGRPCServer(transport: transport.server, services: services) { _ in
            try await withGRPCClient(transport: transport.client) { client in
                try await withWatchStream(EtcdClients(client)) { w in
                    w.create("k", start: 35)
                    #expect(await w.next()?.created == true)
                    w.requestProgress()
                    var canceled = false
                    while !canceled, let r = await w.next(timeout: .seconds(10)) {
                        if r.canceled {
                            canceled = true
                            #expect(r.compactRevision == 82)
                        } else if r.watchID == -1 {
                            #expect(r.header.revision < 35, "progress \(r.header.revision) before the cancel of a watch from 35")
                        }
                    }
                    #expect(canceled)
                }
            }
        }
    }
}
