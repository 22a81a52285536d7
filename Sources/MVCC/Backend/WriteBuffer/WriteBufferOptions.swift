/// When the write buffer moves records into `mvcc.records` (`WriteBufferedBackend`).
public struct WriteBufferOptions: Sendable {
    /// A flush cycle starts at the first commit that leaves at least
    /// `max(flushThreshold, flushFraction × records)` records (tree and buffer) in the buffer. A
    /// cycle moves every record buffered at its start (the window) into the records tree in
    /// key order, a chunk per commit, then deletes them from the buffer. A larger window means
    /// more records per rewritten leaf (fewer pages per put), more memory (~100 bytes per
    /// buffered record), a larger buffer (up to ~2× the window: file size) and more buffered
    /// records for range reads to look up one by one.
    public var flushThreshold: Int = 16_384
    /// The window as a share of all records, tree and buffer (see `flushThreshold`); 0: only the
    /// absolute threshold. At 1M records the default 0.125 gives windows of 125k records.
    public var flushFraction: Double = 0.125
    /// Least records a commit moves (and twice as many it deletes from the buffer) while a
    /// cycle runs; a commit of `n` buffered puts moves at least `2 n`, so a cycle ends before
    /// the buffer has grown by its window again. Bounds the work a cycle adds to one commit.
    public var minChunk: Int = 4096
    /// Whether puts go to the buffer. `false` only drains it (a node switching the buffer off).
    public var buffersPuts: Bool = true

    public init(flushThreshold: Int = 16_384, flushFraction: Double = 0.125, minChunk: Int = 4096, buffersPuts: Bool = true) {
        self.flushThreshold = max(1, flushThreshold)
        self.flushFraction = max(0, flushFraction)
        self.minChunk = max(1, minChunk)
        self.buffersPuts = buffersPuts
    }

    /// The buffered records at which a cycle starts, with `records` in all (nil: unknown).
    func threshold(records: Int?) -> Int {
        guard let records, flushFraction > 0 else { return flushThreshold }
        return max(flushThreshold, Int((flushFraction * Double(records)).rounded(.up)))
    }
}
