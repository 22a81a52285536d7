/// The flush cycle of a write buffer (`WriteBufferedBackend`), a state machine run at the
/// end of every write transaction. A cycle starts when the buffer holds
/// `WriteBufferOptions.threshold(records:)` records: its window is every record buffered then, in record-key order. Each commit then
/// copies the next chunk of the window into `mvcc.records` (skipping records deleted from
/// the buffer meanwhile: compaction, drop, ingest), and once all are copied, deletes the
/// window from the buffer in arrival order (≈ buffer order), a chunk per commit.
///
/// The window is built without a pass over the buffer or a big sort on the commit path:
/// every commit's buffered record keys arrive as a sorted run, and runs of similar size are
/// merged as they arrive (a binary counter: O(log n) work per record, at most one merge of
/// the whole window in one commit), so starting a cycle merges a few runs.
///
/// Crash safety needs no persisted cycle state: copies are idempotent (a record's value never
/// changes) and a record leaves the buffer only in a commit after the one that copied it,
/// so a crash at any point leaves every record in the buffer, the tree or both; the next
/// process rebuilds the runs from the buffer (`init(bufferedKeys:)`) and starts a new cycle
/// over whatever the buffer holds. Owns the record keys of the buffered records (shared with
/// nothing; ~100 bytes per record).
struct WriteBufferFlusher {
    /// Records in the buffer (+ buffered puts; exact at each cycle start).
    private(set) var buffered: Int
    /// Record keys buffered since the current window was taken, in arrival order.
    private var arrivals: [[UInt8]] = []
    /// The same keys as sorted runs, sizes decreasing (merged as a binary counter).
    private var runs: [[[UInt8]]] = []
    /// Record keys of the cycle's window, in key order.
    private var window: [[UInt8]] = []
    /// The window in arrival order (trimmed in this order).
    private var windowArrivals: [[UInt8]] = []
    /// `window[..<copied]` are in the records tree.
    private var copied = 0
    /// `windowArrivals[..<trimmed]` are deleted from the buffer.
    private var trimmed = 0

    /// A flusher for a buffer holding `bufferedKeys` (record keys, in buffer order).
    init(bufferedKeys: [[UInt8]]) {
        buffered = bufferedKeys.count
        arrivals = bufferedKeys
        if !bufferedKeys.isEmpty { runs = [bufferedKeys.sorted(by: Bytes.less)] }
    }

    var active: Bool { !windowArrivals.isEmpty }

    /// What one transaction did; applied by `apply` only once the transaction committed.
    struct Step {
        /// The record keys the transaction buffered, in its order.
        var bufferedKeys: [[UInt8]] = []
        /// The window of a cycle started in this transaction (arrivals so far + these, sorted).
        var startedWindow: [[UInt8]]?
        var copiedTo: Int?
        var trimmedTo: Int?
    }

    /// Runs this transaction's share of the cycle in `wtx` (the inner backend's transaction).
    /// Mutates nothing: a transaction that fails leaves the cycle as it was.
    func step(_ wtx: any MVCCWriteTxn, bufferedKeys: [[UInt8]], options: WriteBufferOptions) throws -> Step {
        var step = Step(bufferedKeys: bufferedKeys)
        var window = self.window
        var copied = self.copied
        let trimmed = self.trimmed
        var windowCount = windowArrivals.count
        if windowArrivals.isEmpty {
            guard buffered + bufferedKeys.count >= options.flushThreshold,
                buffered + bufferedKeys.count
                    >= options.threshold(records: try wtx.keyCount(.records).map { $0 + buffered + bufferedKeys.count })
            else { return step }
            window = Self.mergeAll(runs + [Self.sortedRun(bufferedKeys)])
            guard !window.isEmpty else { return step }
            windowCount = window.count
            copied = 0
            step.startedWindow = window
        }
        let chunk = max(options.minChunk, 2 * bufferedKeys.count)
        if copied < window.count {
            let end = min(window.count, copied + chunk)
            for rk in window[copied..<end] {
                guard let value = try wtx.get(.buffer, BufferKey.make(recordKey: rk)) else { continue }  // deleted meanwhile
                try wtx.put(.records, rk, value)
            }
            step.copiedTo = end
        } else {
            let end = min(windowCount, trimmed + 2 * chunk)
            for rk in windowArrivals[trimmed..<end] { try wtx.delete(.buffer, BufferKey.make(recordKey: rk)) }
            step.trimmedTo = end
        }
        return step
    }

    /// Makes a committed step's progress the cycle's state.
    mutating func apply(_ step: Step) {
        buffered += step.bufferedKeys.count
        if let started = step.startedWindow {
            window = started
            windowArrivals = arrivals + step.bufferedKeys
            arrivals = []
            runs = []
            copied = 0
            trimmed = 0
        } else if !step.bufferedKeys.isEmpty {
            arrivals += step.bufferedKeys
            runs.append(Self.sortedRun(step.bufferedKeys))
            while runs.count >= 2 && runs[runs.count - 2].count <= runs[runs.count - 1].count {
                let right = runs.removeLast()
                let left = runs.removeLast()
                runs.append(Self.merge(left, right))
            }
        }
        if let c = step.copiedTo { copied = c }
        if let t = step.trimmedTo {
            trimmed = t
            if trimmed == windowArrivals.count {
                buffered = max(0, buffered - windowArrivals.count)
                window = []
                windowArrivals = []
                copied = 0
                trimmed = 0
            }
        }
    }

    /// `keys` sorted (a transaction's records usually arrive sorted already).
    static func sortedRun(_ keys: [[UInt8]]) -> [[UInt8]] {
        for i in keys.indices.dropFirst() where !Bytes.less(keys[i - 1], keys[i]) {
            return keys.sorted(by: Bytes.less)
        }
        return keys
    }

    static func merge(_ a: [[UInt8]], _ b: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if Bytes.less(b[j], a[i]) {
                out.append(b[j])
                j += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        out.append(contentsOf: a[i...])
        out.append(contentsOf: b[j...])
        return out
    }

    /// One sorted run of all `runs` (smallest first, so the big one is merged once).
    static func mergeAll(_ runs: [[[UInt8]]]) -> [[UInt8]] {
        var rest = runs.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        guard var acc = rest.popLast() else { return [] }
        while let next = rest.popLast() { acc = merge(acc, next) }
        return acc
    }
}
