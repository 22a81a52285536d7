import Base
import RaftCore

extension WALCore {
    /// Entries `[lo, hi)` of a range, from the cache or the segment files, stopping once
    /// `maxBytes` is exceeded (always at least one entry), as `RaftStorage.entries` needs.
    func entries(_ range: RangeID, _ lo: UInt64, _ hi: UInt64, maxBytes: UInt64) throws(StorageError) -> [Entry] {
        guard let index = ranges[range] else { throw .unavailable }
        guard lo >= index.firstIndex else { throw .compacted }
        guard hi <= index.lastIndex + 1, lo <= hi else { throw .unavailable }
        var out: [Entry] = []
        var bytes: UInt64 = 0
        var i = lo
        while i < hi {
            let entry = index.cachedEntry(i) ?? readFromDisk(index.location(of: i)!)
            bytes += UInt64(entry.payloadSize)
            if !out.isEmpty && bytes > maxBytes { break }
            out.append(entry)
            i += 1
        }
        return out
    }

    /// Reads one entry from its segment. A failed read of data this node wrote and synced
    /// is a disk fault the node cannot continue through, as in etcd.
    private func readFromDisk(_ location: EntryLocation) -> Entry {
        guard let segment = segments.first(where: { $0.seq == location.segment }) else {
            preconditionFailure("wal: entry location in deleted segment \(location.segment)")
        }
        do {
            let buffer = try segment.file.read(count: location.size, at: location.offset)
            guard buffer.count == location.size else {
                preconditionFailure("wal: short read of \(segment.file.path) at \(location.offset)")
            }
            return try buffer.withUnsafeBytes { (raw) throws(DecodingError) in
                var reader = BinaryReader(raw)
                return try reader.readEntry()
            }
        } catch {
            preconditionFailure("wal: cannot read entry from \(segment.file.path) at \(location.offset): \(error)")
        }
    }
}
