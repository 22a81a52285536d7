import LZ4
import MVCC
import Synchronization

/// The sending side of a range snapshot: pulls the MVCC segment stream from a
/// `SnapshotChunkReader` (one read transaction) and LZ4-compresses it into chunks of about
/// `chunkBytes`, one chunk per `next()`. Nothing is read or compressed ahead of the
/// consumer beyond the reader's small read-ahead, so the transport's pace (its writes and
/// its throttle) is the backpressure, and memory stays a few chunks whatever the range's
/// size. Owns the reader and the compressor.
final class SnapshotSendSource: Sendable {
    private struct State {
        let compressor: LZ4FrameCompressor
        var pending: [UInt8]?  // the header chunk, pulled by `open` to learn the applied index
        var begun = false
        var ended = false
    }

    private let reader: SnapshotChunkReader
    private let state: Mutex<State>
    private let chunkBytes: Int
    /// The applied index of the state being streamed (from the segment header).
    let appliedIndex: UInt64
    private let compressed = Atomic<Int>(0)
    private let logical = Atomic<Int>(0)

    private init(reader: SnapshotChunkReader, state: consuming sending State, chunkBytes: Int, appliedIndex: UInt64) {
        self.reader = reader
        self.state = Mutex(state)
        self.chunkBytes = chunkBytes
        self.appliedIndex = appliedIndex
    }

    /// Starts reading `store`'s snapshot; waits for its first chunk (the header).
    static func open(_ store: MVCCStore, chunkBytes: Int) async throws -> SnapshotSendSource {
        let reader = store.snapshotReader(chunkBytes: chunkBytes)
        guard let first = try await reader.next(), let header = SegmentSnapshot.peekHeader(first) else {
            throw SnapshotFailure("segment stream without a header")
        }
        let state = State(compressor: try LZ4FrameCompressor(), pending: first)
        return SnapshotSendSource(reader: reader, state: state, chunkBytes: chunkBytes,
                                  appliedIndex: header.appliedIndex)
    }

    /// Compressed bytes handed out so far, and the segment bytes they hold.
    var compressedBytes: Int { compressed.load(ordering: .relaxed) }
    var logicalBytes: Int { logical.load(ordering: .relaxed) }

    /// The next compressed chunk (part of one LZ4 frame), nil after the frame's end.
    /// Called by one consumer at a time (the transport's stream).
    func next() async throws -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(chunkBytes + (64 << 10))
        let ended = try state.withLock { s in
            if !s.ended && !s.begun {
                try s.compressor.begin(appendingTo: &out)
                s.begun = true
            }
            return s.ended
        }
        if ended { return nil }
        while out.count < chunkBytes {
            let raw: [UInt8]?
            if let p = state.withLock({ s in defer { s.pending = nil }; return s.pending }) {
                raw = p
            } else {
                raw = try await reader.next()
            }
            guard let raw else {
                try state.withLock { s in
                    try s.compressor.end(appendingTo: &out)
                    s.ended = true
                }
                break
            }
            logical.add(raw.count, ordering: .relaxed)
            try state.withLock { s in try s.compressor.update(raw, appendingTo: &out) }
        }
        compressed.add(out.count, ordering: .relaxed)
        return out
    }

    /// The chunks as the async stream `RaftTransport.sendSnapshot` takes: each element is
    /// produced only when the transport asks for it.
    func stream() -> AsyncThrowingStream<[UInt8], any Error> {
        AsyncThrowingStream(unfolding: { [self] in try await next() })
    }
}
