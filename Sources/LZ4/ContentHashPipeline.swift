import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Computes a frame's content checksum (XXH32) off the decoding thread when it
/// can, so hashing block N overlaps decoding block N+1 on the machine's other core.
///
/// Owns the running XXH32 state and the ordered list of decoded chunks not yet
/// hashed. XXH32 is serial, so one thread at a time holds the running state ("the
/// token") and hashes the oldest pending granule (at most `granuleBytes`). A
/// background worker (one `DispatchQueue` job while chunks are pending) takes
/// granules as they come; when the decoder has to wait (`waitForSlot`, `drain`,
/// `digest`) it does not sleep but hashes pending granules itself, so a worker that
/// is never scheduled costs what inline hashing costs. What it cannot avoid is
/// waiting for a granule the worker is hashing: a worker preempted mid-granule
/// holds the decoder up until it runs again, which on an oversubscribed machine
/// made pipelining slower than inline hashing; hence `.automatic` pipelines only
/// while a CPU looks idle (`hasIdleCPU`).
///
/// The decompressor hands chunks to `submit(_:)` and must not write or free a
/// chunk's memory before a wait has covered it: `waitForSlot` (the chunk submitted
/// `slotCount - 1` submissions earlier is hashed, for the sink API's ring of output
/// slots) or `drain` (everything is hashed, before `decompress(_:into:)` returns).
final class ContentHashPipeline: Sendable {
    /// Chunks smaller than this are hashed on the calling thread right away.
    static let minimumPipelinedBytes = 32 << 10
    /// The largest piece hashed under the token at once, which bounds how long a
    /// waiting thread can be held up by another thread's granule.
    static let granuleBytes = 256 << 10

    /// True when a second CPU exists for the background hashing to run on.
    static var isWorthwhile: Bool { sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 }

    /// True when the background hashing is likely to find a CPU of its own: the
    /// machine has several and the one-minute load average is below their number
    /// (a decoder with its own hashing thread adds up to 2). On an oversubscribed
    /// machine a second thread buys no CPU, only waits for the scheduler, and
    /// measured slower than hashing inline (docs/architecture.md, LZ4).
    static func hasIdleCPU() -> Bool {
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        guard cpus > 1 else { return false }
        var load = [0.0]
        guard getloadavg(&load, 1) == 1 else { return true }
        return load[0] < Double(cpus)
    }

    /// Output slots in flight: the decoder may run this many blocks ahead of the
    /// hashing before it helps or waits.
    static let slotCount = 4

    /// A decoded chunk lent to the hashing threads.
    // @unchecked Sendable: the memory is only read while hashing, and the
    // decompressor neither writes nor frees it until a wait covering the chunk has
    // returned, which happens-after the read (both go through `state`'s lock).
    private struct LentBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
    }

    private struct State {
        var hasher = XXH32()
        /// Granules not yet hashed, oldest first, from `next` on.
        var pending: [LentBytes] = []
        var next = 0
        /// A thread holds the token: it is hashing `pending[next - 1]` outside the lock.
        var hashing = false
        /// A worker job is queued or running.
        var workerActive = false
        /// Chunks submitted and chunks whose every granule is hashed.
        var submittedChunks = 0
        var hashedChunks = 0
        /// For each pending granule, true when it is the last of its chunk.
        var endsChunk: [Bool] = []

        var hasPending: Bool { next < pending.count }
    }

    private let queue = DispatchQueue(label: "flotilla.lz4.content-hash")
    private let state = Mutex(State())

    /// Starts a new frame's checksum. Finishes any work of the previous frame first.
    func reset() {
        drain()
        state.withLock { $0 = State() }
    }

    /// Adds `bytes` to the checksum after everything submitted before.
    func submit(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let startWorker = state.withLock { state -> Bool in
            // Forget hashed granules (never while one is being hashed: its index is in use).
            if !state.hashing && state.next > 0 && (state.next == state.pending.count || state.next >= 64) {
                state.pending.removeFirst(state.next)
                state.endsChunk.removeFirst(state.next)
                state.next = 0
            }
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + Self.granuleBytes, bytes.count)
                state.pending.append(LentBytes(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<end])))
                state.endsChunk.append(end == bytes.count)
                offset = end
            }
            state.submittedChunks += 1
            guard bytes.count >= Self.minimumPipelinedBytes, !state.workerActive else { return false }
            state.workerActive = true
            return true
        }
        if startWorker {
            queue.async { [self] in self.runWorker() }
        } else if bytes.count < Self.minimumPipelinedBytes {
            wait { $0.hashedChunks == $0.submittedChunks }
        }
    }

    /// Returns once at most `slotCount - 1` submitted chunks are not yet hashed, so
    /// the output slot written next is free.
    func waitForSlot() {
        wait { $0.submittedChunks - $0.hashedChunks < Self.slotCount }
    }

    /// Returns once every submitted chunk has been hashed.
    func drain() {
        wait { $0.hashedChunks == $0.submittedChunks }
    }

    /// The checksum of every chunk submitted so far.
    func digest() -> UInt32 {
        drain()
        return state.withLock { $0.hasher.digest() }
    }

    /// The worker job: hashes granules until none is pending or the decoder holds the token.
    private func runWorker() {
        while hashNextGranule() {}
        let again = state.withLock { state -> Bool in
            // Chunks submitted after the last look would otherwise wait for a decoder wait.
            if state.hasPending && !state.hashing { return true }
            state.workerActive = false
            return false
        }
        if again { queue.async { [self] in self.runWorker() } }
    }

    /// Takes the token and hashes the oldest pending granule; false when there is
    /// none or another thread holds the token.
    private func hashNextGranule() -> Bool {
        let taken = state.withLock { state -> (LentBytes, XXH32)? in
            guard state.hasPending, !state.hashing else { return nil }
            state.hashing = true
            state.next += 1
            return (state.pending[state.next - 1], state.hasher)
        }
        guard let (granule, start) = taken else { return false }
        var hasher = start
        hasher.update(granule.bytes)
        state.withLock { state in
            state.hasher = hasher
            state.hashing = false
            if state.endsChunk[state.next - 1] { state.hashedChunks += 1 }
        }
        return true
    }

    /// Hashes pending granules on the calling thread until `done` holds. While
    /// another thread holds the token it spins briefly (that thread, if running,
    /// finishes a granule in tens of microseconds), then yields the CPU: giving up
    /// the time slice at once costs a whole scheduling delay on a busy machine.
    private func wait(until done: (borrowing State) -> Bool) {
        var spins = 0
        while !state.withLock({ done($0) }) {
            if hashNextGranule() {
                spins = 0
            } else if spins < Self.spinsBeforeYield {
                spins += 1
            } else {
                sched_yield()
            }
        }
    }

    /// Lock-and-look rounds (each well under a microsecond) before a waiting thread yields.
    private static let spinsBeforeYield = 20_000
}
