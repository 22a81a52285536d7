import Base

extension WALCore {
    /// Deletes the oldest sealed segments whose every entry is at or below its range's
    /// durably applied index. Before deleting, the affected ranges' new log starts are
    /// written (synced) so recovery never sees a log with a hole.
    mutating func collectGarbage(durableApplied: [RangeID: UInt64]) throws(WALError) -> WALGCReport {
        var report = WALGCReport()
        var deletable = 0
        var newFirst: [RangeID: UInt64] = [:]
        for segment in segments.dropLast() {
            var holding: [RangeID: UInt64] = [:]
            for (range, maxIndex) in segment.maxIndex where ranges[range] != nil {
                if maxIndex > durableApplied[range] ?? 0 { holding[range] = maxIndex }
            }
            if !holding.isEmpty {
                report.holdingBack = holding
                break
            }
            for (range, maxIndex) in segment.maxIndex where ranges[range] != nil {
                newFirst[range] = max(newFirst[range] ?? 0, maxIndex + 1)
            }
            deletable += 1
        }
        guard deletable > 0 else { return report }
        var compactions: [WALRecord] = []
        for (range, first) in newFirst.sorted(by: { $0.key < $1.key }) {
            guard let index = ranges[range], first > index.firstIndex, let term = index.term(at: first - 1) else { continue }
            compactions.append(.compact(range, firstIndex: first, term: term))
        }
        if !compactions.isEmpty { _ = try append(compactions) }
        for segment in segments.prefix(deletable) {
            try fault(.beforeSegmentDelete)
            segment.file.close()
            try SegmentFile.remove(segment.file.path)
            report.deletedSegments.append(segment.seq)
        }
        try SegmentFile.syncDirectory(directory)
        segments.removeFirst(deletable)
        stats.segmentsDeleted += UInt64(deletable)
        stats.liveSegments = segments.count
        return report
    }

    /// Bytes the live segments take on disk.
    var diskBytes: Int { segments.reduce(0) { $0 + $1.file.size } }
}
