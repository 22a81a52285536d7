#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-buffer positional reads and writes on a file descriptor, retrying short transfers
/// and EINTR. Shared by the storage layers (PageStore, WAL), which map a failure's errno to
/// their own error types. Owns nothing; the caller owns the descriptor.
public enum PositionalIO {
    /// Writes all of `bytes` at `offset`. Returns nil on success, else the failing errno.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int32? {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += n
        }
        return nil
    }

    /// Reads into `buffer` from `offset` until it is full or the file ends. Returns the byte
    /// count read, or the failing errno.
    public static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Result<Int, Errno> {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(code: errno))
            }
            if n == 0 { break }
            done += n
        }
        return .success(done)
    }

    /// An errno value as an `Error`, so it fits `Result`.
    public struct Errno: Error, Sendable, Equatable {
        public var code: Int32
    }
}
