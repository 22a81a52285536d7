import Base
import Foundation
import RaftCore
@testable import WAL

/// A fresh temporary directory, removed when the test ends.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "flotilla-wal-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    var segmentPaths: [String] {
        (try! FileManager.default.contentsOfDirectory(atPath: path)).filter { $0.hasSuffix(".wal") }.sorted()
            .map { path + "/" + $0 }
    }
}

func makeEntries(term: UInt64, from: UInt64, count: Int, size: Int = 16, tag: UInt8 = 0) -> [Entry] {
    (0..<count).map { i in
        let index = from + UInt64(i)
        var data = [UInt8](repeating: tag, count: size)
        withUnsafeBytes(of: index.littleEndian) { raw in for (j, b) in raw.enumerated() where j < size { data[j] = b } }
        return Entry(term: term, index: index, data: data)
    }
}

func readAllEntries(_ wal: WriteAheadLog, _ range: RangeID) throws -> [Entry] {
    guard let (first, last) = wal.bounds(of: range), last >= first else { return [] }
    return try wal.entries(of: range, from: first, to: last + 1)
}

func flipBit(path: String, offset: Int) {
    let h = FileHandle(forUpdatingAtPath: path)!
    try! h.seek(toOffset: UInt64(offset))
    var b = h.readData(ofLength: 1)
    b[0] ^= 0x10
    try! h.seek(toOffset: UInt64(offset))
    h.write(b)
    try! h.close()
}

func fileSize(_ path: String) -> Int {
    (try! FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
}
