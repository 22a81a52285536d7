/// Errors of the write-ahead log. Corruption errors name the file and byte offset so an
/// operator can find the damage; the node refuses to start on them.
public enum WALError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// A record that is not at the tail failed its checksum or could not be decoded.
    case corrupt(path: String, offset: Int, reason: String)
    /// A segment in the middle of the sequence is missing.
    case missingSegment(path: String)
    /// A segment's header is invalid (not a WAL file, wrong sequence number or version).
    case badSegmentHeader(path: String, reason: String)
    /// The log was closed.
    case closed
    /// A test-only fault point fired (crash simulation).
    case injectedFault(String)

    public var description: String {
        switch self {
        case .io(let op, let path, let e): "wal: \(op) \(path) failed: errno \(e)"
        case .corrupt(let path, let offset, let reason): "wal: corrupt record in \(path) at offset \(offset): \(reason)"
        case .missingSegment(let path): "wal: missing segment \(path)"
        case .badSegmentHeader(let path, let reason): "wal: bad segment header in \(path): \(reason)"
        case .closed: "wal: closed"
        case .injectedFault(let name): "wal: injected fault at \(name)"
        }
    }
}
