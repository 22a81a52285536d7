import Base
import RaftCore

/// Where one entry lies on disk: its segment, byte offset and encoded size, and its term
/// (kept in memory so `term(at:)` never reads the disk).
struct EntryLocation: Sendable {
    var segment: UInt64
    var offset: Int
    var size: Int
    var term: UInt64
}

/// The in-memory index of one range's log inside the shared WAL: the entries' locations,
/// the latest hard state and a bounded cache of the newest entries. Owns no file.
///
/// Invariant: `locations[i]` describes index `firstIndex + i`; the cache holds the last
/// `cache.count` entries of the log (a suffix), so `cache.last?.index == lastIndex`.
struct RangeLogIndex: Sendable {
    var hardState = HardState()
    private(set) var firstIndex: UInt64 = 1
    /// Term of `firstIndex - 1`; `nil` while recovery has seen a gap not yet explained by
    /// a later compaction record.
    private(set) var termBeforeFirst: UInt64? = 0
    private(set) var locations: [EntryLocation] = []
    private(set) var cache: [Entry] = []
    private var cacheBytes = 0

    var lastIndex: UInt64 { firstIndex + UInt64(locations.count) - 1 }

    func term(at index: UInt64) -> UInt64? {
        if index == firstIndex - 1 { return termBeforeFirst }
        guard index >= firstIndex, index <= lastIndex else { return nil }
        return locations[Int(index - firstIndex)].term
    }

    func location(of index: UInt64) -> EntryLocation? {
        guard index >= firstIndex, index <= lastIndex else { return nil }
        return locations[Int(index - firstIndex)]
    }

    /// The cached entry at `index`, if the cache reaches back that far.
    func cachedEntry(_ index: UInt64) -> Entry? {
        guard let last = cache.last, index <= last.index else { return nil }
        let back = Int(last.index - index)
        guard back < cache.count else { return nil }
        return cache[cache.count - 1 - back]
    }

    /// Appends entries (contiguous), replacing any suffix from the first entry's index on.
    /// A gap after the current log (possible only during recovery after segment GC) starts
    /// the log afresh at the first new entry with an unknown preceding term.
    mutating func append(_ entries: [Entry], offsets: [Int], segment: UInt64, cacheLimitBytes: Int) {
        guard let first = entries.first else { return }
        if first.index > lastIndex + 1 {
            firstIndex = first.index
            termBeforeFirst = nil
            locations.removeAll()
            dropCache()
        } else if first.index < firstIndex {
            // Only during recovery after segment GC: an append that starts below the log's
            // start still truncates everything after it (Raft's conflict rule); the part of it
            // below `firstIndex` was applied and compacted away.
            locations.removeAll()
            dropCache()
            if let before = entries.first(where: { $0.index == firstIndex - 1 }) { termBeforeFirst = before.term }
            let skip = Int(firstIndex - first.index)
            guard skip < entries.count else { return }
            append(Array(entries[skip...]), offsets: Array(offsets[skip...]), segment: segment, cacheLimitBytes: cacheLimitBytes)
            return
        } else if first.index <= lastIndex {
            locations.removeLast(Int(lastIndex - first.index + 1))
            while let last = cache.last, last.index >= first.index {
                cacheBytes -= last.payloadSize
                cache.removeLast()
            }
        }
        if !cache.isEmpty && cache.last!.index + 1 != first.index { dropCache() }
        for (entry, offset) in zip(entries, offsets) {
            locations.append(EntryLocation(segment: segment, offset: offset, size: encodedEntrySize(entry), term: entry.term))
        }
        if cacheLimitBytes > 0 {
            cache.append(contentsOf: entries)
            cacheBytes += entries.reduce(0) { $0 + $1.payloadSize }
            trimCache(limit: cacheLimitBytes)
        }
    }

    /// Drops entries below `newFirst` (log compaction).
    mutating func compact(firstIndex newFirst: UInt64, term: UInt64) {
        if newFirst < firstIndex { return }
        if newFirst == firstIndex {
            if termBeforeFirst == nil { termBeforeFirst = term }
            return
        }
        if newFirst > lastIndex + 1 {
            locations.removeAll()
            dropCache()
        } else if newFirst > firstIndex {
            locations.removeFirst(Int(newFirst - firstIndex))
            let keep = cache.drop { $0.index < newFirst }
            if keep.count != cache.count {
                cache = Array(keep)
                cacheBytes = cache.reduce(0) { $0 + $1.payloadSize }
            }
        }
        firstIndex = max(newFirst, firstIndex)
        termBeforeFirst = term
    }

    /// Discards the whole log; the next entry is `index + 1`.
    mutating func resetToSnapshot(index: UInt64, term: UInt64) {
        locations.removeAll()
        dropCache()
        firstIndex = index + 1
        termBeforeFirst = term
    }

    private mutating func dropCache() {
        cache.removeAll()
        cacheBytes = 0
    }

    private mutating func trimCache(limit: Int) {
        guard cacheBytes > limit else { return }
        var drop = 0
        var bytes = cacheBytes
        while drop < cache.count - 1 && bytes > limit {
            bytes -= cache[drop].payloadSize
            drop += 1
        }
        cache.removeFirst(drop)
        cacheBytes = bytes
    }
}
