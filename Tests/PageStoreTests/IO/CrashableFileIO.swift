#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import PageStore
import Synchronization

/// A file layer for crash tests: writes go through to the real file (so the mapping sees
/// them) but every unsynced write remembers the bytes it replaced, so `crash(_:)` can
/// simulate what survives a power cut: everything, nothing since the last sync, a random
/// subset of pages, or a torn last write.
final class CrashableFileIO: PageFileIO, Sendable {
    enum CrashMode: CustomStringConvertible, Sendable {
        case keepAll
        case dropUnsynced
        case dropRandom(seed: UInt64)
        case tearLastWrite

        var description: String {
            switch self {
            case .keepAll: "keepAll"
            case .dropUnsynced: "dropUnsynced"
            case .dropRandom(let s): "dropRandom(\(s))"
            case .tearLastWrite: "tearLastWrite"
            }
        }
    }

    private struct Undo { var offset: Int; var old: [UInt8]; var newLength: Int; var write = 0 }
    private struct State { var undo: [Undo] = []; var syncedSize = 0; var crashed = false; var writes = 0 }

    let inner: POSIXFileIO
    private let state: Mutex<State>

    init(fd: Int32, path: String) {
        inner = POSIXFileIO(fd: fd, path: path)
        var st = stat()
        fstat(fd, &st)
        state = Mutex(State(syncedSize: Int(st.st_size)))
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(PageStoreError) {
        let size = try inner.size()
        let pageSize = 1024
        // One undo record per 1 KiB piece so random loss can drop parts of a write.
        var records: [Undo] = []
        var o = 0
        while o < bytes.count {
            let n = min(pageSize, bytes.count - o)
            let keep = max(0, min(n, size - (offset + o)))
            var old: [UInt8] = []
            if keep > 0 {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: keep, alignment: 8)
                defer { buffer.deallocate() }
                _ = try inner.read(into: buffer, at: offset + o)
                old = [UInt8](buffer)
            }
            records.append(Undo(offset: offset + o, old: old, newLength: n))
            o += n
        }
        try state.withLock { s throws(PageStoreError) in
            if s.crashed { throw .injectedFault("write after crash") }
            s.writes += 1
            for var r in records { r.write = s.writes; s.undo.append(r) }
        }
        try inner.write(bytes, at: offset)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(PageStoreError) -> Int {
        try inner.read(into: buffer, at: offset)
    }

    func sync() throws(PageStoreError) {
        try inner.sync()
        let size = try inner.size()
        state.withLock { s in s.undo.removeAll(); s.syncedSize = size }
    }

    func size() throws(PageStoreError) -> Int { try inner.size() }

    func grow(to size: Int) throws(PageStoreError) { try inner.grow(to: size) }

    /// Rewrites the file as it would be after a power cut in `mode`. Further writes fail.
    func crash(_ mode: CrashMode) throws {
        let (undo, syncedSize) = state.withLock { s in s.crashed = true; return (s.undo, s.syncedSize) }
        func restore(_ u: Undo, prefix: Int = 0) throws {
            if u.old.count > prefix {
                try u.old[prefix...].withUnsafeBytes { try inner.write($0, at: u.offset + prefix) }
            }
            // Bytes past the old end of file: zero them (truncation below may remove them).
            if u.newLength > max(u.old.count, prefix) {
                let start = max(u.old.count, prefix)
                let zeros = [UInt8](repeating: 0, count: u.newLength - start)
                try zeros.withUnsafeBytes { try inner.write($0, at: u.offset + start) }
            }
        }
        switch mode {
        case .keepAll:
            break
        case .dropUnsynced:
            for u in undo.reversed() { try restore(u) }
            try inner.grow(to: syncedSize)
        case .dropRandom(let seed):
            var g = SplitMix(seed)
            // Each unsynced 1 KiB piece independently survives or not; the file keeps its size.
            for u in undo.reversed() where g.next() & 1 == 0 { try restore(u) }
        case .tearLastWrite:
            // The last write reached the disk only partly: its first 40 bytes (a page header
            // and a little more) landed, the rest kept the old contents.
            if let last = undo.last?.write {
                let pieces = undo.filter { $0.write == last }
                for (i, u) in pieces.enumerated().reversed() { try restore(u, prefix: i == 0 ? 40 : 0) }
            }
        }
    }
}

/// Tiny deterministic generator for the crash layer (the tests use Base.SeededGenerator).
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
