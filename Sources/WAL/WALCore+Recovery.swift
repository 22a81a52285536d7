import Base

extension WALCore {
    /// Opens the directory, replays every segment in order and positions the writer.
    /// A torn final write is cut off (and zeroed); anything invalid before it is reported
    /// as corruption naming the file and offset, and the log refuses to open.
    mutating func recover() throws(WALError) -> WALRecoveryReport {
        try SegmentFile.makeDirectory(directory)
        let seqs = try SegmentFile.list(directory).compactMap(WALFormat.parseSegmentName).sorted()
        var report = WALRecoveryReport(segments: 0, records: 0, tornTail: nil)
        guard let firstSeq = seqs.first else {
            try openNewSegment(seq: 1)
            report.segments = 1
            return report
        }
        for (i, seq) in seqs.enumerated() where seq != firstSeq + UInt64(i) {
            throw .missingSegment(path: directory + "/" + WALFormat.segmentName(firstSeq + UInt64(i)))
        }
        for (i, seq) in seqs.enumerated() {
            let isLast = i == seqs.count - 1
            let path = directory + "/" + WALFormat.segmentName(seq)
            let file = try SegmentFile.open(path: path, seq: seq)
            let image = try file.readAll()
            let headerProblem = image.withUnsafeBytes { WALFormat.validateHeader($0, seq: seq) }
            if let problem = headerProblem {
                // A crash while creating the newest segment leaves it without a valid
                // header; it holds no data, so it is recreated.
                if isLast && i > 0 && image.allSatisfy({ $0 == 0 }) || isLast && i > 0 && image.count < WALFormat.headerSize {
                    file.close()
                    try SegmentFile.remove(path)
                    try openNewSegment(seq: seq)
                    report.segments += 1
                    break
                }
                throw .badSegmentHeader(path: path, reason: problem)
            }
            segments.append(SegmentInfo(file: file))
            report.segments += 1
            let segmentIndex = segments.count - 1
            var records = 0
            let scanned: Result<SegmentScanner.End, WALError> = image.withUnsafeBytes { raw in
                do throws(WALError) {
                    return .success(try SegmentScanner.scan(raw) { (located) throws(WALError) in
                        records += 1
                        apply(located.record, entryFileOffsets: located.entryOffsets, segmentIndex: segmentIndex)
                    })
                } catch { return .failure(error) }
            }
            let end = try scanned.get()
            report.records += records
            switch end {
            case .sealed(let next, _):
                guard next == seq + 1 else {
                    throw .corrupt(path: path, offset: 0, reason: "seal names segment \(next), expected \(seq + 1)")
                }
                if isLast { try openNewSegment(seq: next) }
            case .clean(let offset):
                guard isLast else {
                    throw .corrupt(path: path, offset: offset, reason: "segment ends without a seal but is not the last")
                }
                writeOffset = offset
                zeroedThrough = offset
            case .invalid(let offset, let reason):
                let validAfter = image.withUnsafeBytes { SegmentScanner.firstValidFrame($0, after: offset) }
                if !isLast || validAfter != nil {
                    throw .corrupt(path: path, offset: offset, reason: reason)
                }
                try zeroTail(file: file, from: offset, to: image.count)
                writeOffset = offset
                zeroedThrough = offset
                report.tornTail = (path, offset)
            }
        }
        for (range, index) in ranges where index.termBeforeFirst == nil {
            throw .corrupt(path: directory, offset: 0,
                           reason: "log of \(range) starts at \(index.firstIndex) with no record of the entry before it")
        }
        stats.liveSegments = segments.count
        return report
    }

    /// Overwrites `[from, to)` with zeros and syncs, so a torn write never resurfaces.
    private func zeroTail(file: SegmentFile, from: Int, to: Int) throws(WALError) {
        let chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset = from
        while offset < to {
            let n = min(chunk.count, to - offset)
            try file.write(n == chunk.count ? chunk : Array(chunk[0..<n]), at: offset)
            offset += n
        }
        try file.sync()
    }
}
