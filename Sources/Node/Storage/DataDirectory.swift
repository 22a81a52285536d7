public import Base
import Foundation

/// The layout of a node's data directory and its ownership check. Owns the paths only:
/// `IDENTITY` (which node the directory belongs to), `wal/`, `data.db` and `snapshots/`.
public struct DataDirectory: Sendable {
    public let path: String
    public var walPath: String { path + "/wal" }
    public var dataFilePath: String { path + "/data.db" }
    /// Received snapshots being staged (`StagedSnapshot`), cleared at start.
    public var snapshotsPath: String { path + "/snapshots" }
    var identityPath: String { path + "/IDENTITY" }

    /// Errors preparing the directory.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case ownedByAnotherNode(path: String, owner: String)
        case io(String)
        public var description: String {
            switch self {
            case .ownedByAnotherNode(let path, let owner):
                "data directory \(path) belongs to \(owner); refusing to start"
            case .io(let why): "data directory: \(why)"
            }
        }
    }

    /// Creates the directory (mode 0700) or checks that an existing one belongs to `node`.
    /// Returns whether the directory was new (no identity yet).
    @discardableResult
    public static func prepare(path: String, node: NodeID) throws(Failure) -> (DataDirectory, fresh: Bool) {
        let dir = DataDirectory(path: path)
        let fm = FileManager.default
        do {
            if !fm.fileExists(atPath: path) {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true,
                                       attributes: [.posixPermissions: 0o700])
            }
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        } catch {
            throw .io("cannot create \(path): \(error)")
        }
        let expected = "flotilla-node \(node.rawValue)\n"
        if let existing = fm.contents(atPath: dir.identityPath) {
            let text = String(decoding: existing, as: UTF8.self)
            guard text == expected else {
                throw .ownedByAnotherNode(path: path, owner: text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return (dir, false)
        }
        let tmp = dir.identityPath + ".tmp"
        guard fm.createFile(atPath: tmp, contents: Data(expected.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw .io("cannot write \(tmp)")
        }
        guard rename(tmp, dir.identityPath) == 0 else { throw .io("cannot rename \(tmp): errno \(errno)") }
        return (dir, true)
    }
}
