@testable import PageStore
import Base

/// One operation of a generated workload.
enum Op: CustomStringConvertible {
    case createBucket([UInt8])
    case deleteBucket([UInt8])
    case put([UInt8], key: [UInt8], value: [UInt8])
    case delete([UInt8], key: [UInt8])
    case deleteRange([UInt8], lo: [UInt8]?, hi: [UInt8]?)

    var description: String {
        switch self {
        case .createBucket(let b): "create \(b)"
        case .deleteBucket(let b): "dropBucket \(b)"
        case .put(let b, let k, let v): "put \(b) \(k) (\(v.count) B)"
        case .delete(let b, let k): "delete \(b) \(k)"
        case .deleteRange(let b, let lo, let hi): "deleteRange \(b) \(lo as Any) \(hi as Any)"
        }
    }
}

/// The reference model: buckets of sorted maps, as plain Swift dictionaries.
struct Model: Equatable {
    var buckets: [[UInt8]: [[UInt8]: [UInt8]]] = [:]

    mutating func apply(_ op: Op) {
        switch op {
        case .createBucket(let b): if buckets[b] == nil { buckets[b] = [:] }
        case .deleteBucket(let b): buckets[b] = nil
        case .put(let b, let k, let v): buckets[b, default: [:]][k] = v
        case .delete(let b, let k): buckets[b]?[k] = nil
        case .deleteRange(let b, let lo, let hi):
            guard let m = buckets[b] else { return }
            buckets[b] = m.filter { !inRange($0.key, lo, hi) }
        }
    }

    func sorted(_ b: [UInt8]) -> [([UInt8], [UInt8])] {
        (buckets[b] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
    }
}

func inRange(_ k: [UInt8], _ lo: [UInt8]?, _ hi: [UInt8]?) -> Bool {
    if let lo, k.lexicographicallyPrecedes(lo) { return false }
    if let hi, !k.lexicographicallyPrecedes(hi) { return false }
    return true
}

/// Applies `op` inside a write transaction (buckets are created by put as needed).
func perform(_ op: Op, _ txn: inout WriteTransaction) throws {
    switch op {
    case .createBucket(let b): _ = try txn.createBucketIfNeeded(named: b)
    case .deleteBucket(let b): try txn.deleteBucket(named: b)
    case .put(let b, let k, let v): try txn.createBucketIfNeeded(named: b).put(k, v)
    case .delete(let b, let k): _ = try txn.bucket(named: b)?.delete(k)
    case .deleteRange(let b, let lo, let hi): _ = try txn.bucket(named: b)?.deleteRange(from: lo, to: hi)
    }
}

/// Generates random operations over a few buckets and a small key space (so overwrites,
/// deletes of existing keys and splits/merges all happen), with occasional big values.
struct OpGenerator {
    var g: SeededGenerator
    let bucketNames: [[UInt8]] = [Array("meta".utf8), Array("records".utf8), Array("history".utf8)]
    var keySpace = 3000

    init(seed: UInt64) { g = SeededGenerator(seed: seed) }

    mutating func key() -> [UInt8] {
        let i = Int.random(in: 0..<keySpace, using: &g)
        let len = Int.random(in: 0...2, using: &g) == 0 ? Int.random(in: 8...200, using: &g) : 8
        var k = Array(String(i).utf8)
        while k.count < len { k.append(UInt8(ascii: "x")) }
        return k
    }

    mutating func value() -> [UInt8] {
        let r = Int.random(in: 0..<1000, using: &g)
        let n: Int
        if r < 3 { n = Int.random(in: 100_000...400_000, using: &g) }
        else if r < 40 { n = Int.random(in: 1025...9000, using: &g) }
        else { n = Int.random(in: 0...300, using: &g) }
        let fill = UInt8.random(in: 0...255, using: &g)
        return (0..<n).map { UInt8(truncatingIfNeeded: $0) &+ fill }
    }

    mutating func op() -> Op {
        let b = bucketNames.randomElement(using: &g)!
        let r = Int.random(in: 0..<1000, using: &g)
        switch r {
        case 0..<3: return .deleteBucket(b)
        case 3..<10: return .createBucket(b)
        case 10..<25:
            let a = key(), c = key()
            let (lo, hi) = a.lexicographicallyPrecedes(c) ? (a, c) : (c, a)
            return .deleteRange(b, lo: Int.random(in: 0..<10, using: &g) == 0 ? nil : lo,
                                hi: Int.random(in: 0..<10, using: &g) == 0 ? nil : hi)
        case 25..<350: return .delete(b, key: key())
        default: return .put(b, key: key(), value: value())
        }
    }
}

/// Asserts the file's committed contents equal `model`; returns a description of the first difference.
func difference(_ file: PageFile, _ model: Model) throws -> String? {
    try file.view { txn throws -> String? in
        let names = try txn.bucketNames()
        let expected = model.buckets.keys.sorted { $0.lexicographicallyPrecedes($1) }
        if names != expected { return "buckets \(names) != \(expected)" }
        for name in names {
            let b = try txn.bucket(named: name)!
            let got = try dump(b), want = model.sorted(name)
            if b.count != want.count { return "bucket \(name) count \(b.count) != \(want.count)" }
            if got.count != want.count { return "bucket \(name) has \(got.count) entries, model \(want.count)" }
            for (x, y) in zip(got, want) where x.0 != y.0 || x.1 != y.1 {
                return "bucket \(name): entry \(x.0) (\(x.1.count) B) != model \(y.0) (\(y.1.count) B)"
            }
        }
        return nil
    }
}
