import Base
import MVCC
import Router

/// A router over a fresh `FakeCluster` with fast retries (by default bounded by attempts
/// only: no `retryWindow`).
func makeRouter(splitKeys: [String] = ["k10", "k20", "k30"], remote: Set<Int> = [],
                maxAttempts: Int = 8, retryWindow: Duration = .zero) throws -> (Router, FakeCluster) {
    let cluster = try FakeCluster(splitKeys: splitKeys.map(bytes), remote: remote)
    var config = Router.Config()
    config.initialBackoff = .microseconds(50)
    config.maxBackoff = .microseconds(400)
    config.maxAttempts = maxAttempts
    config.retryWindow = retryWindow
    config.requestIDSeed = 1
    // The fake cluster answers every call in-process and cannot be paused, so no attempt needs
    // the wall-clock deadline; on a starved 2-core CI run (this suite's tests took 6–26 s there)
    // it fired and sent a retry to a follower, which consumed an injected fault (a CI failure
    // of `timeoutAfterApplyIsRetriedUnderTheSameRequestID`). PausedLeaderTests cover it.
    config.attemptTimeout = nil
    return (Router(access: cluster, config: config), cluster)
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func key(_ i: Int) -> [UInt8] { bytes("k" + (i < 10 ? "0" : "") + String(i)) }

/// The one store the model tests compare against, with its own revision counter.
final class ModelStore {
    let store: MVCCStore
    private(set) var revision: Int64 = 1

    init() throws {
        store = try MVCCStore.create(backend: InMemoryBackend(), rangeID: RangeID(1), start: [], end: nil)
        store.advanceRevision(to: 1)
    }

    func nextRevision() -> Int64 {
        revision += 1
        return revision
    }
}
