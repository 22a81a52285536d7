#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileIO

/// The write side of the file: everything a commit does to the file except reading it
/// through the mapping. A protocol so tests can put a layer underneath that forgets
/// unsynced writes (see `PageFileOptions.ioFactory`, debug builds only).
protocol PageFileIO: AnyObject, Sendable {
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(PageStoreError)
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(PageStoreError) -> Int
    func sync() throws(PageStoreError)
    func size() throws(PageStoreError) -> Int
    func grow(to size: Int) throws(PageStoreError)
}

/// The real file layer: pwrite / pread / fdatasync / ftruncate on one descriptor it does
/// not own (PageFile closes it).
final class POSIXFileIO: PageFileIO {
    let fd: Int32
    let path: String
    #if DEBUG || FLOTILLA_CRASH_POINTS
    /// Debug builds: what was written since the last sync, when a crash point needs it.
    let unsynced: UnsyncedWrites?
    #endif

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        #if DEBUG || FLOTILLA_CRASH_POINTS
        unsynced = nil
        #endif
    }

    #if DEBUG || FLOTILLA_CRASH_POINTS
    /// Debug builds: a file layer that remembers its unsynced writes (`recordUnsynced`), so
    /// `destroyUnsyncedWrites` can act out a power cut.
    init(fd: Int32, path: String, recordUnsynced: Bool) {
        self.fd = fd
        self.path = path
        var st = stat()
        let size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        unsynced = recordUnsynced ? UnsyncedWrites(size: size) : nil
    }

    /// Overwrites what was written since the last sync with garbage and cuts the file back to
    /// its synced size (no-op unless recording). Returns the bytes destroyed.
    @discardableResult
    func destroyUnsyncedWrites(seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> Int {
        unsynced?.destroy(fd: fd, seed: seed) ?? 0
    }
    #endif

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(PageStoreError) {
        if let code = PositionalIO.writeAll(fd, bytes, at: offset) { throw .io(operation: "pwrite", path: path, errno: code) }
        #if DEBUG || FLOTILLA_CRASH_POINTS
        unsynced?.wrote(at: offset, count: bytes.count)
        #endif
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(PageStoreError) -> Int {
        switch PositionalIO.readFully(fd, into: buffer, at: offset) {
        case .success(let n): return n
        case .failure(let e): throw .io(operation: "pread", path: path, errno: e.code)
        }
    }

    func sync() throws(PageStoreError) {
        #if canImport(Darwin)
        let rc = fsync(fd)
        #else
        let rc = fdatasync(fd)
        #endif
        if rc != 0 { throw .io(operation: "fdatasync", path: path, errno: errno) }
        #if DEBUG || FLOTILLA_CRASH_POINTS
        unsynced?.synced()
        #endif
    }

    func size() throws(PageStoreError) -> Int {
        var st = stat()
        if fstat(fd, &st) != 0 { throw .io(operation: "fstat", path: path, errno: errno) }
        return Int(st.st_size)
    }

    func grow(to size: Int) throws(PageStoreError) {
        if ftruncate(fd, off_t(size)) != 0 { throw .io(operation: "ftruncate", path: path, errno: errno) }
        #if DEBUG || FLOTILLA_CRASH_POINTS
        unsynced?.grew(to: size)
        #endif
    }
}

@inline(__always) func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) func openDescriptor(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
