public import Base
import LZ4
public import MVCC
import RaftCore
import Synchronization
import WAL

/// Range snapshots, streamed end to end so that a range of any size is never held in
/// memory: the sender pulls the range's committed MVCC segment chunk by chunk from one read
/// transaction (`SnapshotSendSource`) and LZ4-compresses each as the transport asks for it
/// (one frame, content checksum on), next to a Raft snapshot message re-pointed at the
/// streamed state's applied index; the receiver decompresses each chunk as it arrives into a
/// staging file (`StagedSnapshot`), verifies the frame's checksum, then the poll loop
/// ingests the staged stream piece by piece into the data file atomically, resets the
/// range's WAL log and steps the message. A snapshot that fails anywhere is discarded whole.
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
        // The de-duplication memory as of now (a copy); the segment read below is at the
        // durable index, at or below `requestsApplied`, so the copy covers its window.
        let requests = r.appliedRequests
        let requestsApplied = r.appliedIndex
        snapshotSendsInFlight.add(1, ordering: .acquiringAndReleasing)
        Task.detached { [self] in
            defer { snapshotSendsInFlight.subtract(1, ordering: .acquiringAndReleasing) }
            var ok = false
            do {
                // Pull-based: the segment is read (one read transaction) and compressed chunk
                // by chunk as the transport writes, never materialised.
                let source = try await SnapshotSendSource.open(store, chunkBytes: chunkBytes)
                let applied = source.appliedIndex
                CrashPoint.snapshotSend.hit()
                var msg = m
                // A commit between the copy and the read: the copy lacks the newest records.
                guard applied <= requestsApplied else { throw SnapshotFailure("applied requests older than the segment") }
                if var snap = msg.snapshot, applied >= snap.metadata.index, let term = wal.term(of: range, at: applied) {
                    snap.metadata.index = applied
                    snap.metadata.term = term
                    msg.snapshot = snap
                }
                let header = SnapshotHeader(rangeID: range, message: msg)
                // The de-duplication memory goes ahead of the segment (prefix pieces).
                let prefix = PrefixPieces(AppliedRequests.prefixPieces(requests.snapshotData(at: applied),
                                                                       pieceBytes: chunkBytes))
                let chunks = AsyncThrowingStream<[UInt8], any Error>(unfolding: {
                    if let piece = prefix.pop() { return piece }
                    return try await source.next()
                })
                try await transport.sendSnapshot(to: node, header: header, chunks: chunks)
                state.withLock { $0.metrics.snapshotBytesSent += UInt64(source.compressedBytes) }
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
    /// `chunkBytes`, with the applied index the stream's header carries, all in memory
    /// (tests and benchmarks; the sender streams through `SnapshotSendSource`).
    public static func compressSegment(_ store: MVCCStore, chunkBytes: Int) throws -> ([[UInt8]], UInt64, Int) {
        let compressor = try LZ4FrameCompressor()
        var chunks: [[UInt8]] = []
        var out: [UInt8] = []
        var applied: UInt64?
        var total = 0
        try compressor.begin(appendingTo: &out)
        try store.writeSnapshot(chunkBytes: chunkBytes) { segmentChunk in
            if applied == nil { applied = SegmentSnapshot.peekHeader(segmentChunk)?.appliedIndex }
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

    /// Receives a snapshot chunk by chunk: each compressed chunk is decompressed and its
    /// bytes appended to a staging file as it arrives (memory: a chunk and the decoder's few
    /// blocks), then, once the frame's content checksum held, the poll loop ingests the
    /// staged stream piece by piece in one data-file transaction.
    public func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                                chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        guard header.message.type == .snapshot, let index = header.message.snapshot?.metadata.index else {
            throw SnapshotFailure("header carries no snapshot message")
        }
        let (staged, received, prefix) = try await Self.stageSnapshotWithPrefix(chunks, directory: directory.snapshotsPath,
                                                                                range: header.rangeID)
        defer { staged.remove() }
        guard SegmentSnapshot.peekHeader(staged.prefix(1 << 20))?.appliedIndex == index else {
            throw SnapshotFailure("stream's applied index differs from the message's")
        }
        let segment = staged.chunks(pieceBytes: config.snapshotChunkBytes)
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<Void, SnapshotFailure>, Never>) in
            let install = SnapshotInstall(from: node, header: header, segment: segment, appliedRequests: prefix,
                                          continuation: c)
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

    /// Decompresses an LZ4-framed segment stream as it arrives into a new staging file
    /// under `directory` and verifies the frame's content checksum; returns the staged file
    /// (the caller removes it) and the compressed bytes received. Deletes the file on error.
    static func stageSnapshot(_ chunks: AsyncThrowingStream<[UInt8], any Error>, directory: String,
                              range: RangeID) async throws -> (StagedSnapshot, received: Int) {
        let (staged, received, _) = try await stageSnapshotWithPrefix(chunks, directory: directory, range: range)
        return (staged, received)
    }

    /// `stageSnapshot`, also returning the payload of the prefix pieces that precede the
    /// LZ4 frame (the sender's de-duplication memory, `AppliedRequests+Snapshot`).
    static func stageSnapshotWithPrefix(_ chunks: AsyncThrowingStream<[UInt8], any Error>, directory: String,
                                        range: RangeID) async throws -> (StagedSnapshot, received: Int, prefix: [UInt8]) {
        var staged = try StagedSnapshot.create(directory: directory, range: range)
        do {
            let decompressor = try LZ4FrameDecompressor()
            var received = 0
            var prefix: [UInt8] = []
            var inPrefix = true
            for try await chunk in chunks {
                received += chunk.count
                if inPrefix, let payload = AppliedRequests.prefixPayload(chunk) {
                    prefix += payload
                    continue
                }
                inPrefix = false
                try decompressor.decompress(chunk) { piece in try staged.append(piece) }
            }
            try decompressor.finish()  // verifies the frame's content checksum
            return (staged, received, prefix)
        } catch {
            staged.remove()
            throw error
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
            let requests = try AppliedRequests.fromSnapshot(install.appliedRequests,
                                                            windowEntries: config.dedupWindowEntries)
            let store = try MVCCStore.ingestSnapshot(backend: storeBackend(for: r.rangeID), chunks: install.segment)
            guard store.rangeID == r.rangeID, store.appliedIndex == index else {
                throw SnapshotFailure("stream holds \(store.rangeID)@\(store.appliedIndex), message says \(index)")
            }
            r.store = store
            if let d = try? RangeDescriptor.decode(store.descriptor) { r.descriptor = d }
            // The sender's de-duplication memory up to the snapshot point, so this replica
            // skips the same duplicate entries as the others from `index + 1` on.
            r.appliedRequests = requests
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

/// Pieces handed out once each, in order, to the snapshot stream ahead of the segment.
/// Sendable through its `Mutex`.
final class PrefixPieces: Sendable {
    private let pieces: Mutex<[[UInt8]]>

    init(_ pieces: [[UInt8]]) { self.pieces = Mutex(pieces.reversed()) }

    func pop() -> [UInt8]? { pieces.withLock { $0.popLast() } }
}
