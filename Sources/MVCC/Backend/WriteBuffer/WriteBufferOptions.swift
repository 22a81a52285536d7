/// When the write buffer moves records into `mvcc.records` (`WriteBufferedBackend`).
public struct WriteBufferOptions: Sendable {
    /// A flush cycle starts at the first commit that leaves at least this many records in the
    /// buffer. A cycle moves every record buffered at its start (the window) into the records
    /// tree in key order, a chunk per commit, then deletes them from the buffer. Larger means
    /// more records per rewritten leaf (fewer pages per put) and more memory (~100 bytes per
    /// windowed record while a cycle runs) and a larger buffer (up to ~2× this).
    public var flushThreshold: Int = 131_072
    /// Least records a commit moves (and twice as many it deletes from the buffer) while a
    /// cycle runs; a commit of `n` buffered puts moves at least `2 n`, so a cycle ends before
    /// the buffer has grown by its window again. Bounds the work a cycle adds to one commit.
    public var minChunk: Int = 4096
    /// Whether puts go to the buffer. `false` only drains it (a node switching the buffer off).
    public var buffersPuts: Bool = true

    public init(flushThreshold: Int = 131_072, minChunk: Int = 4096, buffersPuts: Bool = true) {
        self.flushThreshold = max(1, flushThreshold)
        self.minChunk = max(1, minChunk)
        self.buffersPuts = buffersPuts
    }
}
