/// The flush cycle of a write buffer (`WriteBufferedBackend`), a pure state machine run at
/// the end of every write transaction. A cycle starts when the buffer holds
/// `flushThreshold` records: its window is every record buffered then, in record-key order.
/// Each commit then copies the next chunk of the window into `mvcc.records` (skipping
/// records deleted from the buffer meanwhile: compaction, drop, ingest), and once all are
/// copied, deletes the window from the buffer in buffer order, a chunk per commit.
///
/// Crash safety needs no persisted cycle state: copies are idempotent (a record's value never
/// changes) and a record leaves the buffer only in a commit after the one that copied it,
/// so a crash at any point leaves every record in the buffer, the tree or both; the next
/// process starts a new cycle over whatever the buffer holds. Owns the window (~100 bytes per
/// record while a cycle runs).
struct WriteBufferFlusher {
    /// Records in the buffer (exact at each cycle start, then + buffered puts).
    var buffered: Int
    /// Record keys of the cycle's window, in key order.
    private var window: [[UInt8]] = []
    /// Buffer keys of the window, in buffer order (deleted in this order once all are copied).
    private var windowBufferKeys: [[UInt8]] = []
    /// `window[..<copied]` are in the records tree.
    private var copied = 0
    /// `windowBufferKeys[..<trimmed]` are deleted from the buffer.
    private var trimmed = 0

    init(buffered: Int) { self.buffered = buffered }

    var active: Bool { !windowBufferKeys.isEmpty }

    /// What one transaction did; applied by `apply` only once the transaction committed.
    struct Step {
        var bufferedPuts = 0
        /// A new window (the cycle started in this transaction).
        var started: (window: [[UInt8]], bufferKeys: [[UInt8]])?
        var copiedTo: Int?
        var trimmedTo: Int?
    }

    /// Runs this transaction's share of the cycle in `wtx` (the inner backend's transaction).
    func step(_ wtx: any MVCCWriteTxn, bufferedPuts: Int, options: WriteBufferOptions) throws -> Step {
        var step = Step(bufferedPuts: bufferedPuts)
        var window = self.window
        var bufferKeys = self.windowBufferKeys
        var copied = self.copied
        var trimmed = self.trimmed
        if bufferKeys.isEmpty {
            guard buffered + bufferedPuts >= options.flushThreshold else { return step }
            try wtx.scan(.buffer, from: [], to: nil, reverse: false) { bk, _ in
                bufferKeys.append(Array(bk))
                return true
            }
            guard !bufferKeys.isEmpty else { return step }
            window = bufferKeys.map { $0.withUnsafeBytes { BufferKey.recordKey($0) } }
            window.sort(by: Bytes.less)
            copied = 0
            trimmed = 0
            step.started = (window, bufferKeys)
        }
        let chunk = max(options.minChunk, 2 * bufferedPuts)
        if copied < window.count {
            let end = min(window.count, copied + chunk)
            for rk in window[copied..<end] {
                let bk = BufferKey.make(recordKey: rk)
                guard let value = try wtx.get(.buffer, bk) else { continue }  // deleted meanwhile
                try wtx.put(.records, rk, value)
            }
            step.copiedTo = end
        } else {
            let end = min(bufferKeys.count, trimmed + 2 * chunk)
            for bk in bufferKeys[trimmed..<end] { try wtx.delete(.buffer, bk) }
            step.trimmedTo = end
        }
        return step
    }

    /// Makes a committed step's progress the cycle's state.
    mutating func apply(_ step: Step) {
        buffered += step.bufferedPuts
        if let started = step.started {
            window = started.window
            windowBufferKeys = started.bufferKeys
            buffered = started.bufferKeys.count
            copied = 0
            trimmed = 0
        }
        if let c = step.copiedTo { copied = c }
        if let t = step.trimmedTo {
            trimmed = t
            if trimmed == windowBufferKeys.count {
                buffered = max(0, buffered - windowBufferKeys.count)
                window = []
                windowBufferKeys = []
                copied = 0
                trimmed = 0
            }
        }
    }
}
