public import Base
import LZ4
public import MVCC
import RaftCore
import WAL

/// Range snapshots: the sender streams the range's committed MVCC segment as one LZ4 frame
/// (content checksum on) next to a Raft snapshot message re-pointed at the streamed state's
/// applied index; the receiver decompresses and verifies it completely, then the poll loop
/// ingests it into the data file atomically, resets the range's WAL log and steps the
/// message. A snapshot that fails anywhere is discarded whole.
extension NodeHost {
    /// Starts sending the range's snapshot to the peer `m.to` (outside the loop).
    func startSnapshotSend(_ r: RangeReplica, _ m: Message) {
        guard let node = r.node(of: m.to), !r.snapshotsInFlight.contains(m.to) else { return }
        r.snapshotsInFlight.insert(m.to)
        let store = r.store
        let range = r.rangeID
        let wal = self.wal
        let chunkBytes = config.snapshotChunkBytes
        let transport = self.transport
        snapshotSendsInFlight.add(1, ordering: .acquiringAndReleasing)
        Task.detached { [self] in
            defer { snapshotSendsInFlight.subtract(1, ordering: .acquiringAndReleasing) }
            var ok = false
            do {
                let (chunks, applied, compressedBytes) = try Self.compressSegment(store, chunkBytes: chunkBytes)
                CrashPoint.snapshotSend.hit()
                var msg = m
                if var snap = msg.snapshot, applied >= snap.metadata.index, let term = wal.term(of: range, at: applied) {
                    snap.metadata.index = applied
                    snap.metadata.term = term
                    msg.snapshot = snap
                }
                let header = SnapshotHeader(rangeID: range, message: msg)
                let stream = AsyncThrowingStream<[UInt8], any Error> { c in
                    for chunk in chunks { c.yield(chunk) }
                    c.finish()
                }
                try await transport.sendSnapshot(to: node, header: header, chunks: stream)
                state.withLock { $0.metrics.snapshotBytesSent += UInt64(compressedBytes) }
                ok = true
            } catch {
                ok = false
            }
            _ = enqueue { mb in
                mb.snapshotReports.append((range, m.to, ok))
                return true
            }
        }
    }

    /// The range's committed segment stream, LZ4-compressed into chunks of about
    /// `chunkBytes`, with the applied index the stream's header carries.
    public static func compressSegment(_ store: MVCCStore, chunkBytes: Int) throws -> ([[UInt8]], UInt64, Int) {
        let compressor = try LZ4FrameCompressor()
        var chunks: [[UInt8]] = []
        var out: [UInt8] = []
        var applied: UInt64?
        var total = 0
        try compressor.begin(appendingTo: &out)
        try store.writeSnapshot(chunkBytes: chunkBytes) { segmentChunk in
            if applied == nil { applied = SegmentHeaderPeek.appliedIndex(segmentChunk) }
            try compressor.update(segmentChunk, appendingTo: &out)
            if out.count >= chunkBytes {
                total += out.count
                chunks.append(out)
                out = []
            }
        }
        try compressor.end(appendingTo: &out)
        total += out.count
        chunks.append(out)
        guard let applied else { throw SnapshotFailure("segment stream without a header") }
        return (chunks, applied, total)
    }

    public func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                                chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        let decompressor = try LZ4FrameDecompressor()
        // One buffer: the segment stream's frames must not be split across chunks, and LZ4
        // block boundaries fall anywhere in it.
        var stream: [UInt8] = []
        var received = 0
        for try await chunk in chunks {
            received += chunk.count
            try decompressor.decompress(chunk) { stream.append(contentsOf: $0) }
        }
        try decompressor.finish()  // verifies the frame's content checksum
        let segment = [stream]
        guard SegmentHeaderPeek.appliedIndex(stream) == header.message.snapshot?.metadata.index else {
            throw SnapshotFailure("stream's applied index differs from the message's")
        }
        guard header.message.type == .snapshot, header.message.snapshot != nil else {
            throw SnapshotFailure("header carries no snapshot message")
        }
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<Void, SnapshotFailure>, Never>) in
            let install = SnapshotInstall(from: node, header: header, segment: segment, continuation: c)
            let accepted = enqueue { m in
                guard !m.stopping else { return false }
                m.installs.append(install)
                return true
            }
            if !accepted { c.resume(returning: .failure(SnapshotFailure("node stopping"))) }
        }
        try result.get()
        state.withLock { s in
            s.metrics.snapshotsReceived += 1
            s.metrics.snapshotBytesReceived += UInt64(received)
        }
    }

    /// Runs in the poll loop: ingest (or skip, when the log already holds the snapshot
    /// point), then step the message. Known window: a crash between the ingest (durable) and
    /// the round's WAL append leaves MVCC ahead of the WAL's log for this range.
    func installSnapshot(_ install: SnapshotInstall, _ s: inout HostState) {
        let m = install.header.message
        guard let snap = m.snapshot, let r = s.replicas[install.header.rangeID] else {
            install.continuation.resume(returning: .failure(SnapshotFailure("range not on this node")))
            return
        }
        let st = r.raw.status
        let index = snap.metadata.index
        r.wake()
        // Raft would ignore it: stale term, or nothing new. Step it so the leader hears back.
        if m.term < st.hardState.term || index <= st.hardState.commit || index <= r.appliedIndex
            || wal.term(of: r.rangeID, at: index) == snap.metadata.term
        {
            try? r.raw.step(m)
            install.continuation.resume(returning: .success(()))
            return
        }
        CrashPoint.snapshotInstall.hit()
        do {
            let store = try MVCCStore.ingestSnapshot(backend: storeBackend(for: r.rangeID), chunks: install.segment)
            guard store.rangeID == r.rangeID, store.appliedIndex == index else {
                throw SnapshotFailure("stream holds \(store.rangeID)@\(store.appliedIndex), message says \(index)")
            }
            r.store = store
            if let d = try? RangeDescriptor.decode(store.descriptor) { r.descriptor = d }
            r.appliedIndex = index
            r.durableApplied = index
            s.viewsDirty.insert(r.rangeID)
            // Raft restores from the message; the Ready that follows (this same round) writes
            // the WAL's `.snapshotReset` and the storage's snapshot point. The storage must not
            // know the point before the step, or Raft would see a matching term and only move
            // its commit instead of restoring.
            try? r.raw.step(m)
            install.continuation.resume(returning: .success(()))
        } catch {
            install.continuation.resume(returning: .failure(SnapshotFailure("\(error)")))
        }
    }
}

/// Decompresses a whole snapshot (one LZ4 frame in any chunking) into the segment stream,
/// verifying the frame's checksum. Used by tests and benchmarks; `receiveSnapshot` does the
/// same over an async stream.
extension NodeHost {
    public static func decompressSnapshot(_ chunks: [[UInt8]]) throws -> [UInt8] {
        let decompressor = try LZ4FrameDecompressor()
        var stream: [UInt8] = []
        for c in chunks { try decompressor.decompress(c) { stream.append(contentsOf: $0) } }
        try decompressor.finish()
        return stream
    }
}

/// Reads the applied index from the header frame at the start of an MVCC segment stream
/// (`SegmentSnapshot`'s documented layout: `[0x01]["FLSG"][u16][u64 rangeID][bytes start]
/// [u8 hasEnd][bytes end][u64 appliedIndex]…`, big-endian, `bytes` = u32 length + bytes).
enum SegmentHeaderPeek {
    static func appliedIndex(_ chunk: [UInt8]) -> UInt64? {
        var i = 0
        func u32() -> Int? {
            guard i + 4 <= chunk.count else { return nil }
            defer { i += 4 }
            return chunk[i..<i + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        func u64() -> UInt64? {
            guard i + 8 <= chunk.count else { return nil }
            defer { i += 8 }
            return chunk[i..<i + 8].reduce(0) { $0 << 8 | UInt64($1) }
        }
        guard chunk.first == 0x01 else { return nil }
        i = 1 + 4 + 2 + 8
        guard let startLen = u32() else { return nil }
        i += startLen + 1
        guard let endLen = u32() else { return nil }
        i += endLen
        return u64()
    }
}
