import API
public import Base
import Foundation

/// A cluster backup on disk (`ClusterBackup` content + zero padding to 512 + SHA-256):
/// `verify` checks the size and the digest (a corrupted or truncated file is refused before
/// anything is read from it), `Reader` then yields the header and the frames in order with
/// bounded memory (one frame at a time), checking the end frame's totals and the padding.
/// Owns its file handle.
public enum ClusterBackupFile {
    /// Why a file is refused.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    static let digestBytes = 32
    static let alignment: UInt64 = 512
    static let readBytes = 1 << 20

    /// Checks that `path` is a complete snapshot: size = 512·k + 32 and the trailing SHA-256
    /// matches everything before it. Returns the file size and the digest.
    @discardableResult
    public static func verify(_ path: String) throws -> (size: UInt64, digest: [UInt8]) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure("cannot open snapshot file \(path)") }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size >= alignment + UInt64(digestBytes), (size - UInt64(digestBytes)) % alignment == 0 else {
            throw Failure("snapshot file \(path) is truncated or not a snapshot: \(size) bytes is not a multiple of 512 plus a 32-byte SHA-256")
        }
        try handle.seek(toOffset: 0)
        var sha = SHA256()
        var left = size - UInt64(digestBytes)
        while left > 0 {
            let n = Int(min(left, UInt64(readBytes)))
            guard let data = try handle.read(upToCount: n), data.count == n else {
                throw Failure("snapshot file \(path) changed while it was read")
            }
            sha.update(data)
            left -= UInt64(n)
        }
        let stored = Array(try handle.read(upToCount: digestBytes) ?? Data())
        let computed = sha.finalize()
        guard stored == computed else {
            throw Failure("snapshot file \(path) is corrupted: its SHA-256 digest does not match its content (expected \(hex(stored)), computed \(hex(computed)))")
        }
        return (size, computed)
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    /// Sequential reading of a verified file.
    public final class Reader {
        let handle: FileHandle
        let path: String
        let contentLimit: UInt64
        var buffer: [UInt8] = []
        var head = 0
        var consumed: UInt64 = 0
        public private(set) var header: ClusterBackup.Header
        /// The totals counted so far (ranges, keys, leases).
        public private(set) var counted = ClusterBackup.Summary()
        var ended = false

        /// Opens `path` (call `verify` first) and reads its header.
        public init(path: String, size: UInt64) throws {
            guard let h = FileHandle(forReadingAtPath: path) else { throw Failure("cannot open snapshot file \(path)") }
            handle = h
            self.path = path
            contentLimit = size - UInt64(ClusterBackupFile.digestBytes)
            header = ClusterBackup.Header(revision: 0, clusterID: 0, createdUnixMs: 0)
            let head = try take(ClusterBackup.headerBytes)
            header = try ClusterBackup.decodeHeader(head)
        }

        deinit { try? handle.close() }

        /// The next frame; nil after the end frame (whose totals and the padding after it
        /// have been checked). Unknown frame kinds are skipped.
        public func next() throws -> ClusterBackup.Frame? {
            while !ended {
                let start = consumed
                let prefix = try take(5)
                let length = prefix[1...4].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
                let payload = try take(length)
                guard let frame = try ClusterBackup.decodeFrame(kind: prefix[0], payload: payload) else { continue }
                switch frame {
                case .range: counted.ranges += 1
                case .kvs(_, let kvs): counted.keys += UInt64(kvs.count)
                case .leases(let l): counted.leases += UInt32(l.count)
                case .end(let s):
                    var expected = counted
                    expected.contentBytes = start
                    guard s == expected else {
                        throw Failure("snapshot file \(path): end frame says \(s), read \(expected)")
                    }
                    try checkPadding()
                    ended = true
                }
                return frame
            }
            return nil
        }

        /// After the end frame only zero padding (< 512 bytes) may precede the digest.
        func checkPadding() throws {
            let rest = contentLimit - consumed
            guard rest < ClusterBackupFile.alignment else { throw Failure("snapshot file \(path): \(rest) bytes after the end frame") }
            let pad = try take(Int(rest))
            guard pad.allSatisfy({ $0 == 0 }) else { throw Failure("snapshot file \(path): non-zero padding") }
        }

        /// Exactly `n` bytes of content (never the digest).
        func take(_ n: Int) throws -> [UInt8] {
            guard consumed + UInt64(n) <= contentLimit else {
                throw Failure("snapshot file \(path) ends inside a frame (no end frame)")
            }
            while buffer.count - head < n {
                if head > 0 {
                    buffer.removeFirst(head)
                    head = 0
                }
                let want = max(ClusterBackupFile.readBytes, n - buffer.count)
                guard let data = try handle.read(upToCount: want), !data.isEmpty else {
                    throw Failure("snapshot file \(path) is shorter than it was when verified")
                }
                buffer.append(contentsOf: data)
            }
            let out = Array(buffer[head..<head + n])
            head += n
            consumed += UInt64(n)
            return out
        }
    }
}
