#if DEBUG || FLOTILLA_CRASH_POINTS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileIO
import Synchronization

/// Debug builds only: the record of what a `POSIXFileIO` wrote since its last fdatasync
/// (byte ranges, and the file size the last sync made durable), so a crash point can destroy
/// exactly what a power cut could lose before the process exits: every unsynced range is
/// overwritten with garbage and a grown file is cut back to its synced size. Kept only in
/// processes started to crash at a PageStore crash point, and in the tests of that path.
final class UnsyncedWrites: Sendable {
    private struct State {
        var ranges: [(offset: Int, count: Int)] = []
        var syncedSize: Int
        var size: Int
    }
    private let state: Mutex<State>

    init(size: Int) { state = Mutex(State(syncedSize: size, size: size)) }

    func wrote(at offset: Int, count: Int) {
        state.withLock { s in
            s.ranges.append((offset, count))
            s.size = max(s.size, offset + count)
        }
    }

    func grew(to size: Int) { state.withLock { $0.size = size } }

    func synced() { state.withLock { s in s.ranges.removeAll(keepingCapacity: true); s.syncedSize = s.size } }

    /// The ranges written since the last sync (for tests).
    var pending: [(offset: Int, count: Int)] { state.withLock { $0.ranges } }

    /// Overwrites every unsynced range of `fd` with garbage (a different pattern per call,
    /// never a valid checksum by construction of chance), cuts a grown file back to its
    /// synced size, and forgets the ranges. Returns how many bytes it destroyed.
    @discardableResult
    func destroy(fd: Int32, seed: UInt64) -> Int {
        state.withLock { s in
            var rng = seed | 1
            var destroyed = 0
            for r in s.ranges {
                let garbage = UnsafeMutableRawBufferPointer.allocate(byteCount: r.count, alignment: 8)
                defer { garbage.deallocate() }
                for i in 0..<r.count {
                    // xorshift64: cheap garbage that differs from any page the commit wrote.
                    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                    garbage[i] = UInt8(truncatingIfNeeded: rng)
                }
                if PositionalIO.writeAll(fd, UnsafeRawBufferPointer(garbage), at: r.offset) == nil { destroyed += r.count }
            }
            if s.size > s.syncedSize { _ = ftruncate(fd, off_t(s.syncedSize)) }
            s.ranges.removeAll()
            s.size = s.syncedSize
            return destroyed
        }
    }
}
#endif
