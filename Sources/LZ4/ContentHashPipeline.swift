import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Computes a frame's content checksum (XXH32) on a background serial queue, one
/// decoded block at a time, so hashing block N overlaps decoding block N+1 on the
/// machine's other core.
///
/// Owns the running XXH32 state and one `DispatchGroup` per output slot of the
/// decompressor's ring of output buffers. The decompressor hands a slot's bytes to
/// `submit(_:slot:)` and must not write that slot again before `waitForSlot(_:)`
/// returns; `digest()` waits for every submitted block, so the checksum compared
/// at the frame's end covers exactly the bytes emitted, in order (the queue is
/// serial). Small chunks are hashed inline (after earlier blocks) because a queue
/// hop costs more than hashing them.
final class ContentHashPipeline: Sendable {
    /// Chunks smaller than this are hashed on the calling thread.
    static let minimumPipelinedBytes = 32 << 10

    /// True when a second CPU exists for the background hashing to run on.
    static var isWorthwhile: Bool { sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 }

    /// Output slots in flight: the decoder may run this many blocks ahead of the hashing
    /// queue before it waits, which absorbs the queue thread's wake-up latency.
    static let slotCount = 4

    private let queue = DispatchQueue(label: "flotilla.lz4.content-hash")
    private let slotGroups = (0..<ContentHashPipeline.slotCount).map { _ in DispatchGroup() }
    private let state = Mutex(XXH32())

    /// A decoded chunk lent to the hashing queue.
    // @unchecked Sendable: the pointer's memory is only read on the queue, and the
    // decompressor neither writes nor frees it until `waitForSlot`/`drain` returned
    // for the slot it lives in, which happens-after the queue's read.
    private struct LentBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
    }

    /// Starts a new frame's checksum. Waits for any work of the previous frame.
    func reset() {
        drain()
        state.withLock { $0 = XXH32() }
    }

    /// Adds `bytes`, which live in output `slot`, to the checksum after everything
    /// submitted before.
    func submit(_ bytes: UnsafeRawBufferPointer, slot: Int) {
        if bytes.count < Self.minimumPipelinedBytes {
            drain()
            state.withLock { $0.update(bytes) }
            return
        }
        let lent = LentBytes(bytes: bytes)
        queue.async(group: slotGroups[slot]) { [self] in
            self.state.withLock { $0.update(lent.bytes) }
        }
    }

    /// Returns once no submitted work still reads output `slot`.
    func waitForSlot(_ slot: Int) {
        slotGroups[slot].wait()
    }

    /// Returns once every submitted chunk has been hashed.
    func drain() {
        for group in slotGroups { group.wait() }
    }

    /// The checksum of every chunk submitted so far.
    func digest() -> UInt32 {
        drain()
        return state.withLock { $0.digest() }
    }
}
