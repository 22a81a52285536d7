public import Base
import Foundation
public import MVCC
import PageStore

/// Writes a NEW node data directory from a cluster backup (`flotctl snapshot restore`), for
/// a node of a new cluster: `IDENTITY`, and a `data.db` holding the system range (revision
/// oracle high-water mark, leases) when the node is one of its replicas, and every user
/// range's key-values as of the backup revision. No WAL: every range's Raft group starts
/// fresh at index 0 with the descriptor's replicas as voters, as a bootstrapped cluster
/// does, but over the restored state (each restored node holds the same state, so no
/// snapshot needs to travel).
///
/// Everything is written to `<path>.restoring-<pid>` and renamed to `path` by `finish()`,
/// so an interrupted restore never leaves a directory a node would start on. Owns that
/// directory's data file until `finish()` or `abandon()`.
public final class RestoredDataDirectory {
    /// Errors of a restore's file system work.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case exists(String)
        case io(String)
        public var description: String {
            switch self {
            case .exists(let p): "data-dir \"\(p)\" exists; refusing to restore over it"
            case .io(let why): "restore: \(why)"
            }
        }
    }

    public let path: String
    public let node: NodeID
    let staging: String
    let backend: PageStoreBackend
    let systemBackend: PageStoreBackend
    var open = true

    /// Creates the staging directory for `node`; refuses when `path` already exists.
    public init(path: String, node: NodeID) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: path) else { throw Failure.exists(path) }
        self.path = path
        self.node = node
        staging = path + ".restoring-\(getpid())"
        try? fm.removeItem(atPath: staging)
        let (dir, _) = try DataDirectory.prepare(path: staging, node: node)
        backend = try PageStoreBackend.open(path: dir.dataFilePath)
        systemBackend = PageStoreBackend(file: backend.file, bucketNames: NodeHost.systemBucketNames)
    }

    /// Writes the system range (when this node holds a replica of `descriptor`): the oracle's
    /// high-water mark `oracleMark` (new revisions are handed out above it) and every lease
    /// with its granted TTL in seconds.
    public func writeSystemRange(_ descriptor: RangeDescriptor, oracleMark: Int64, leases: [(id: Int64, ttl: Int64)]) throws {
        guard descriptor.replica(on: node) != nil else { return }
        let store = try MVCCStore.create(backend: systemBackend, rangeID: .system, start: descriptor.startKey,
                                         end: descriptor.endKey, descriptor: descriptor.encoded())
        var rev: Int64 = 0
        rev += 1
        _ = try store.put(PutRequest(key: SystemStateMachine.oracleKey, value: SystemStateMachine.int64Value(oracleMark)),
                          revision: rev)
        for l in leases.sorted(by: { $0.id < $1.id }) {
            rev += 1
            _ = try store.put(PutRequest(key: SystemStateMachine.leaseKey(l.id), value: SystemStateMachine.int64Value(l.ttl)),
                              revision: rev)
        }
        try store.commit(appliedIndex: 0)
    }

    /// Creates the empty user range `descriptor` restored at `revision` (when this node holds
    /// a replica of it); key-values follow with `append`.
    public func createRange(_ descriptor: RangeDescriptor, revision: Int64) throws {
        guard descriptor.replica(on: node) != nil else { return }
        try MVCCStore.createRestored(backend: backend, rangeID: descriptor.rangeID, start: descriptor.startKey,
                                     end: descriptor.endKey, descriptor: descriptor.encoded(), revision: revision)
    }

    /// Adds `kvs` (increasing keys above `after`) to range `descriptor` in one file
    /// transaction. Returns the last key written (the next call's `after`).
    @discardableResult
    public func append(_ kvs: [KeyValue], to descriptor: RangeDescriptor, revision: Int64, after: [UInt8]?) throws -> [UInt8]? {
        guard descriptor.replica(on: node) != nil else { return kvs.last?.key ?? after }
        return try MVCCStore.appendRestored(kvs, backend: backend, start: descriptor.startKey, end: descriptor.endKey,
                                            revision: revision, after: after)
    }

    /// Syncs and closes the data file and moves the directory into place.
    public func finish() throws {
        guard open else { return }
        open = false
        try backend.file.sync()
        backend.file.close()
        guard rename(staging, path) == 0 else {
            let e = errno
            try? FileManager.default.removeItem(atPath: staging)
            throw Failure.io("cannot rename \(staging) to \(path): errno \(e)")
        }
    }

    /// Closes the data file and deletes the staging directory (a failed restore).
    public func abandon() {
        guard open else { return }
        open = false
        backend.file.close()
        try? FileManager.default.removeItem(atPath: staging)
    }

    deinit { abandon() }
}
