/// One event as a watcher received it. A delete carries the key and its revision only.
public struct WatchEventRecord: Hashable, Sendable, Codable, CustomStringConvertible {
    public var isDelete: Bool
    public var key: String
    public var value: String
    public var revision: Int64

    public init(isDelete: Bool, key: String, value: String, revision: Int64) {
        self.isDelete = isDelete
        self.key = key
        self.value = value
        self.revision = revision
    }

    public var description: String { isDelete ? "DEL \(key)@\(revision)" : "PUT \(key)=\(value)@\(revision)" }
}

/// One thing that happened on a watcher's stream, in order.
public enum WatchLogEntry: Hashable, Sendable, Codable {
    /// A watch was created (first time or when resuming) from `startRevision`.
    case created(startRevision: Int64, endpoint: String)
    /// A response with events (all of one or more whole revisions).
    case events(headerRevision: Int64, events: [WatchEventRecord])
    /// A progress notification: every event up to `revision` was delivered.
    case progress(revision: Int64)
    /// The server canceled the watch (`compactRevision` set when compacted away).
    case canceled(compactRevision: Int64, reason: String)
    /// The stream failed (node killed, connection lost); the watcher will resume.
    case broken(reason: String)
}

/// Everything one watcher saw: where it started and the ordered stream log across resumes.
public struct WatcherLog: Hashable, Sendable, Codable {
    public var id: Int
    public var startRevision: Int64
    public var entries: [WatchLogEntry]

    public init(id: Int, startRevision: Int64, entries: [WatchLogEntry] = []) {
        self.id = id
        self.startRevision = startRevision
        self.entries = entries
    }

    /// All events received, in arrival order.
    public var events: [WatchEventRecord] {
        var out: [WatchEventRecord] = []
        for entry in entries {
            if case .events(_, let e) = entry { out += e }
        }
        return out
    }

    /// The highest revision the watcher is promised complete up to: its last event's or its
    /// last progress notification's revision, whichever is higher (0 if none).
    public var coveredThrough: Int64 {
        var r: Int64 = 0
        for e in entries {
            switch e {
            case .events(_, let evs): if let last = evs.last { r = max(r, last.revision) }
            case .progress(let p): r = max(r, p)
            default: break
            }
        }
        return r
    }

    /// True when the server canceled the watch because its revision was compacted.
    public var wasCompacted: Bool {
        entries.contains { if case .canceled(let c, _) = $0 { c > 0 } else { false } }
    }
}
