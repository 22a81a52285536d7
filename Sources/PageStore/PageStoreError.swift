/// Every failure PageStore reports. Corruption is always reported, never served as data.
public enum PageStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed (`operation` names it, `errno` is the C error number).
    case io(operation: String, path: String, errno: Int32)
    /// Neither meta page is valid: the file is not a PageStore file or both metas are damaged.
    case noValidMeta(path: String, meta0: String, meta1: String)
    /// The file is shorter than the committed state requires (truncated).
    case fileTruncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// A page failed its checksum or structural check.
    case corruptPage(PageIDValue, reason: String)
    /// The file's page size differs from the requested one, or the page size is unsupported.
    case invalidPageSize(Int)
    case keyTooLarge(size: Int, max: Int)
    case emptyKey
    case valueTooLarge(size: Int, max: Int)
    case bucketNotFound(name: [UInt8])
    /// The file was closed, or a write failed half-way and the handle refuses further use
    /// (reopen the file: the last committed state is intact on disk).
    case closed
    case failed(reason: String)
    /// The file is locked by another open handle (flock).
    case locked(path: String)
    /// A transaction was used outside the closure that received it.
    case transactionClosed
    /// The file uses a format feature this code does not know (a newer writer's meta flags).
    case unsupportedFormat(path: String, reason: String)
    /// Test-only: a named fault point fired.
    case injectedFault(String)

    public typealias PageIDValue = UInt64

    public var description: String {
        switch self {
        case .io(let op, let path, let e): "pagestore: \(op) failed on \(path): errno \(e)"
        case .noValidMeta(let path, let m0, let m1): "pagestore: \(path): no valid meta page (meta 0: \(m0); meta 1: \(m1))"
        case .fileTruncated(let path, let want, let have): "pagestore: \(path) is truncated: committed state needs \(want) bytes, file has \(have)"
        case .corruptPage(let id, let reason): "pagestore: page \(id) is corrupt: \(reason)"
        case .invalidPageSize(let p): "pagestore: invalid page size \(p)"
        case .keyTooLarge(let size, let max): "pagestore: key of \(size) bytes exceeds maximum \(max)"
        case .emptyKey: "pagestore: empty key"
        case .valueTooLarge(let size, let max): "pagestore: value of \(size) bytes exceeds maximum \(max)"
        case .bucketNotFound(let name): "pagestore: bucket \(name) not found"
        case .closed: "pagestore: file is closed"
        case .failed(let reason): "pagestore: file handle failed and must be reopened: \(reason)"
        case .locked(let path): "pagestore: \(path) is locked by another handle"
        case .transactionClosed: "pagestore: transaction used outside its closure"
        case .unsupportedFormat(let path, let reason): "pagestore: \(path) uses an unsupported format feature: \(reason)"
        case .injectedFault(let name): "pagestore: injected fault at \(name)"
        }
    }
}
