#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileIO

/// One open WAL segment file: a file descriptor and its path. Thin, throwing wrappers over
/// pread/pwrite/fdatasync so every failure names the file. Not thread-safe on its own; the
/// `WriteAheadLog` serialises access.
// @unchecked Sendable: the only mutable state is `fd`, changed by `close()` alone, which the
// `WriteAheadLog` calls under both its writer lock and its core lock; the one appender
// (writer lock) writes and syncs outside the core lock while readers pread under it, and
// positional reads and writes on one descriptor are safe from several threads.
final class SegmentFile: @unchecked Sendable {
    let path: String
    let seq: UInt64
    private(set) var fd: Int32

    private init(path: String, seq: UInt64, fd: Int32) {
        self.path = path
        self.seq = seq
        self.fd = fd
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    static func open(path: String, seq: UInt64) throws(WALError) -> SegmentFile {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        return SegmentFile(path: path, seq: seq, fd: fd)
    }

    /// Creates a new segment: header written, space preallocated, file and directory synced.
    static func create(directory: String, seq: UInt64, preallocateBytes: Int) throws(WALError) -> SegmentFile {
        let path = directory + "/" + WALFormat.segmentName(seq)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(operation: "create", path: path, errno: errno) }
        let file = SegmentFile(path: path, seq: seq, fd: fd)
        if preallocateBytes > 0 {
            let rc = posix_fallocate(fd, 0, off_t(preallocateBytes))
            // Some file systems cannot preallocate; the log works without it, only slower.
            if rc != 0 && rc != EOPNOTSUPP && rc != EINVAL { throw .io(operation: "fallocate", path: path, errno: rc) }
        }
        try file.write(WALFormat.header(seq: seq), at: 0)
        try file.sync()
        try syncDirectory(directory)
        return file
    }

    var size: Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(WALError) {
        if let code = PositionalIO.writeAll(fd, bytes, at: offset) { throw .io(operation: "pwrite", path: path, errno: code) }
    }

    /// Writes zeros over `[from, to)` (`WALOptions.zeroAheadBytes`).
    func writeZeros(from: Int, to: Int) throws(WALError) {
        var at = from
        while at < to {
            let n = min(to - at, Self.zeros.count)
            let failure: WALError? = Self.zeros.withUnsafeBytes { raw in
                do throws(WALError) { try write(UnsafeRawBufferPointer(rebasing: raw[0..<n]), at: at); return nil } catch { return error }
            }
            if let failure { throw failure }
            at += n
        }
    }

    /// A page-aligned-sized run of zeros, the source of `writeZeros`.
    static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    /// Writes a whole byte array at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws(WALError) {
        let failure: WALError? = bytes.withUnsafeBytes { raw in
            do throws(WALError) { try write(raw, at: offset); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// Reads `count` bytes at `offset` (fewer at end of file).
    func read(count: Int, at offset: Int) throws(WALError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let result: Result<Int, WALError> = out.withUnsafeMutableBytes { raw in
            do throws(WALError) { return .success(try read(into: raw, at: offset)) } catch { return .failure(error) }
        }
        let got = try result.get()
        if got < count { out.removeLast(count - got) }
        return out
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(WALError) -> Int {
        switch PositionalIO.readFully(fd, into: buffer, at: offset) {
        case .success(let n): return n
        case .failure(let e): throw .io(operation: "pread", path: path, errno: e.code)
        }
    }

    /// Reads the whole file.
    func readAll() throws(WALError) -> [UInt8] { try read(count: size, at: 0) }

    func sync() throws(WALError) {
        if fdatasync(fd) != 0 { throw .io(operation: "fdatasync", path: path, errno: errno) }
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    static func syncDirectory(_ directory: String) throws(WALError) {
        let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw .io(operation: "open directory", path: directory, errno: errno) }
        defer { _ = Glibc.close(dfd) }
        if fsync(dfd) != 0 { throw .io(operation: "fsync directory", path: directory, errno: errno) }
    }

    static func remove(_ path: String) throws(WALError) {
        if unlink(path) != 0 && errno != ENOENT { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    /// The names in a directory (no `.` / `..`).
    static func list(_ directory: String) throws(WALError) -> [String] {
        guard let dir = opendir(directory) else { throw .io(operation: "opendir", path: directory, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Creates `path` (and parents) with mode 0700 if missing.
    static func makeDirectory(_ path: String) throws(WALError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw .io(operation: "mkdir", path: prefix, errno: errno)
            }
        }
    }
}
