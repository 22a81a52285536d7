public import Base
public import RaftCore

/// One logical record of the shared write-ahead log. Records of every range replica on the
/// node are interleaved in one stream; each names the range it belongs to.
public enum WALRecord: Sendable, Equatable {
    /// Log entries of a range, contiguous and increasing in index. Appending entries at
    /// index `i` replaces any entries the range had at `i` and above (a Raft conflict).
    case entries(RangeID, [Entry])
    /// The range's latest hard state (term, vote, commit).
    case hardState(RangeID, HardState)
    /// Log compaction: entries below `firstIndex` are discarded; `term` is the term of
    /// `firstIndex - 1`. Entries at or above `firstIndex` are kept.
    case compact(RangeID, firstIndex: UInt64, term: UInt64)
    /// A snapshot at `index` (of `term`) was installed: the whole log is discarded and the
    /// next entry will be `index + 1`.
    case snapshotReset(RangeID, index: UInt64, term: UInt64)
    /// The range replica was removed from this node; its log is gone.
    case rangeRemoved(RangeID)
    /// The segment ends here; the log continues in segment `next`. Written only at rotation.
    case seal(next: UInt64)
}

/// Record kinds as stored (one byte).
enum WALRecordKind: UInt8 {
    case entries = 1, hardState = 2, compact = 3, rangeRemoved = 4, seal = 5, snapshotReset = 6
}

/// The byte size of one encoded entry: term, index, type, length, data.
@inline(__always) func encodedEntrySize(_ entry: Entry) -> Int { 8 + 8 + 1 + 4 + entry.data.count }

extension BinaryWriter {
    mutating func writeEntry(_ e: Entry) {
        write(e.term)
        write(e.index)
        write(e.type.rawValue)
        writeLengthPrefixed(e.data)
    }

    /// Encodes one record (kind, then its fields).
    mutating func writeRecord(_ record: WALRecord) {
        switch record {
        case .entries(let range, let entries):
            write(WALRecordKind.entries.rawValue)
            write(range.rawValue)
            write(UInt32(entries.count))
            for e in entries { writeEntry(e) }
        case .hardState(let range, let hs):
            write(WALRecordKind.hardState.rawValue)
            write(range.rawValue)
            write(hs.term)
            write(hs.vote)
            write(hs.commit)
        case .compact(let range, let firstIndex, let term):
            write(WALRecordKind.compact.rawValue)
            write(range.rawValue)
            write(firstIndex)
            write(term)
        case .snapshotReset(let range, let index, let term):
            write(WALRecordKind.snapshotReset.rawValue)
            write(range.rawValue)
            write(index)
            write(term)
        case .rangeRemoved(let range):
            write(WALRecordKind.rangeRemoved.rawValue)
            write(range.rawValue)
        case .seal(let next):
            write(WALRecordKind.seal.rawValue)
            write(next)
        }
    }
}

extension BinaryReader {
    mutating func readEntry() throws(DecodingError) -> Entry {
        let term = try read(UInt64.self)
        let index = try read(UInt64.self)
        let rawType = try read(UInt8.self)
        guard let type = EntryType(rawValue: rawType) else {
            throw DecodingError("unknown entry type \(rawType)", offset: offset - 1)
        }
        let data = try readLengthPrefixed()
        return Entry(term: term, index: index, type: type, data: data)
    }

    /// Decodes one record. For `.entries`, `entryOffsets` receives the offset of each entry
    /// within the buffer (so the log index can point at it on disk).
    mutating func readRecord(entryOffsets: inout [Int]) throws(DecodingError) -> WALRecord {
        let start = offset
        let rawKind = try read(UInt8.self)
        guard let kind = WALRecordKind(rawValue: rawKind) else {
            throw DecodingError("unknown WAL record kind \(rawKind)", offset: start)
        }
        switch kind {
        case .entries:
            let range = RangeID(try read(UInt64.self))
            let count = Int(try read(UInt32.self))
            // Each entry takes at least 21 bytes: a count beyond that is corruption.
            guard count <= remaining / 21 else { throw DecodingError("entry count \(count) too large", offset: start) }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            entryOffsets.removeAll(keepingCapacity: true)
            for _ in 0..<count {
                entryOffsets.append(offset)
                entries.append(try readEntry())
            }
            return .entries(range, entries)
        case .hardState:
            let range = RangeID(try read(UInt64.self))
            return .hardState(range, HardState(term: try read(), vote: try read(), commit: try read()))
        case .compact:
            let range = RangeID(try read(UInt64.self))
            return .compact(range, firstIndex: try read(), term: try read())
        case .snapshotReset:
            let range = RangeID(try read(UInt64.self))
            return .snapshotReset(range, index: try read(), term: try read())
        case .rangeRemoved:
            return .rangeRemoved(RangeID(try read(UInt64.self)))
        case .seal:
            return .seal(next: try read())
        }
    }
}
