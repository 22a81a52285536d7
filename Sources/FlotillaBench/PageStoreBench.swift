import ArgumentParser
import PageStore
#if canImport(Glibc)
import Glibc
#endif

/// Raw PageStore micro-benchmark (`flotilla-bench pagestore`): batched puts (random and
/// sequential key order), point reads, range scans, and overwrite rounds with the file size
/// after each round. Release builds only; numbers are noisy on shared machines.
struct PageStoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pagestore", abstract: "Raw PageStore B+tree benchmark.")

    @Option(help: "Number of keys.") var keys = 1_000_000
    @Option(help: "Puts per write transaction.") var batch = 1_000
    @Option(help: "Value size in bytes.") var valueBytes = 256
    @Option(help: "Overwrite rounds (file size measured after each).") var rounds = 3
    @Option(help: "Directory for the data file.") var dir = "/tmp"
    @Flag(help: "Skip fdatasync (measures the tree, not the disk).") var noSync = false
    @Flag(help: "One fdatasync per commit (PageFileOptions.deferMetaSync).") var deferMetaSync = false
    @Flag(help: "Only the sequential-order load.") var sequentialOnly = false

    func run() throws {
        let path = "\(dir)/pagestore-bench-\(getpid()).db"
        defer { unlink(path) }
        var options = PageFileOptions()
        options.durable = !noSync
        options.deferMetaSync = deferMetaSync
        say("pagestore bench: \(keys) keys × 16 B, values \(valueBytes) B, \(batch) puts/txn, durable \(!noSync), deferMetaSync \(deferMetaSync), file \(path)")

        let randomOrder = (0..<keys).map { Self.key(Self.mix(UInt64($0))) }
        let bucket = Array("records".utf8)
        let value = [UInt8](repeating: 0xAB, count: valueBytes)

        if !sequentialOnly {
            var file = try PageFile.open(path: path, options: options)
            let t = try Self.time {
                for start in stride(from: 0, to: keys, by: batch) {
                    try file.update { txn in
                        let b = try txn.createBucketIfNeeded(named: bucket)
                        for i in start..<min(start + batch, keys) { try b.put(randomOrder[i], value) }
                    }
                }
            }
            report("put, random key order", keys, t)
            say("  file \(Self.mib(Self.fileBytes(path))) MiB, live data \(Self.mib(keys * (16 + valueBytes))) MiB")

            var g = Self.mix(12345)
            let lookups = (0..<keys).map { _ -> [UInt8] in g = Self.mix(g); return randomOrder[Int(g % UInt64(keys))] }
            let tr = try Self.time {
                var found = 0
                for start in stride(from: 0, to: lookups.count, by: 1000) {
                    try file.view { txn in
                        let b = try txn.bucket(named: bucket)!
                        for i in start..<min(start + 1000, lookups.count) {
                            found += try b.withValue(forKey: lookups[i]) { $0 == nil ? 0 : 1 }
                        }
                    }
                }
                precondition(found == lookups.count)
            }
            report("get, random, 1000 per read txn", lookups.count, tr)
            let tv = try Self.time {
                for i in 0..<100_000 {
                    _ = try file.view { txn in try txn.bucket(named: bucket)!.withValue(forKey: lookups[i]) { $0?.count } }
                }
            }
            report("get, random, one read txn each", 100_000, tv)

            let ts = try Self.time {
                var n = 0
                try file.view { txn in try txn.bucket(named: bucket)!.scan(from: nil, to: nil) { _, v in n += v.count > 0 ? 1 : 0; return true } }
                precondition(n == keys)
            }
            report("scan, full bucket", keys, ts)
            let tsr = try Self.time {
                var n = 0
                try file.view { txn in
                    let b = try txn.bucket(named: bucket)!
                    for i in 0..<1000 {
                        var left = 1000
                        try b.scan(from: lookups[i], to: nil) { _, _ in n += 1; left -= 1; return left > 0 }
                    }
                }
                precondition(n > 900_000)
            }
            report("scan, 1000 × 1000-key ranges", 1_000_000, tsr)

            // Checksum verification cost: reopen (cold "verified" bitmap), then verify always.
            file.close()
            for mode in [PageFileOptions.ChecksumVerification.oncePerPage, .always] {
                var reopenOptions = options
                reopenOptions.verification = mode
                let reopened = try PageFile.open(path: path, options: reopenOptions)
                for pass in ["cold", "warm"] {
                    let t = try Self.time {
                        for start in stride(from: 0, to: lookups.count, by: 1000) {
                            try reopened.view { txn in
                                let b = try txn.bucket(named: bucket)!
                                for i in start..<min(start + 1000, lookups.count) { _ = try b.withValue(forKey: lookups[i]) { $0?.count } }
                            }
                        }
                    }
                    report("get after reopen, verification \(mode), \(pass)", lookups.count, t)
                }
                reopened.close()
            }
            file = try PageFile.open(path: path, options: options)

            for round in stride(from: 1, through: rounds, by: 1) {
                var h = Self.mix(UInt64(round) &* 7919)
                let tw = try Self.time {
                    for start in stride(from: 0, to: keys, by: batch) {
                        try file.update { txn in
                            let b = try txn.bucket(named: bucket)!
                            for _ in start..<min(start + batch, keys) {
                                h = Self.mix(h)
                                try b.put(randomOrder[Int(h % UInt64(keys))], value)
                            }
                        }
                    }
                }
                let s = file.stats
                report("overwrite round \(round), random keys", keys, tw)
                say("  file \(Self.mib(Self.fileBytes(path))) MiB, pages \(s.pageCount), free \(s.freePages), pending \(s.pendingPages)")
            }
            file.close()
        }

        unlink(path)
        do {
            let file = try PageFile.open(path: path, options: options)
            let t = try Self.time {
                for start in stride(from: 0, to: keys, by: batch) {
                    try file.update { txn in
                        let b = try txn.createBucketIfNeeded(named: bucket)
                        for i in start..<min(start + batch, keys) { try b.put(Self.key(UInt64(i)), value) }
                    }
                }
            }
            report("put, sequential key order", keys, t)
            say("  file \(Self.mib(Self.fileBytes(path))) MiB")
            file.close()
        }
    }

    func report(_ what: String, _ n: Int, _ seconds: Double) {
        let rate = Double(n) / seconds
        say("  \(what): \(n) in \(String(format3(seconds))) s = \(Int(rate)) ops/s")
    }

    /// 16-byte key: the big-endian number, padded.
    static func key(_ x: UInt64) -> [UInt8] {
        var k = [UInt8](repeating: 0x6B, count: 16)
        for i in 0..<8 { k[8 + i] = UInt8(truncatingIfNeeded: x >> (56 - 8 * UInt64(i))) }
        return k
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func time(_ body: () throws -> Void) rethrows -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        try body()
        clock_gettime(CLOCK_MONOTONIC, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    static func fileBytes(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    static func mib(_ bytes: Int) -> String { format3(Double(bytes) / 1_048_576) }
}

private func format3(_ x: Double) -> String {
    let scaled = Int((x * 1000).rounded())
    let frac = String(scaled % 1000)
    return "\(scaled / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
}

/// Writes a line straight to fd 1 (unbuffered, so progress shows when redirected).
private func say(_ s: String) {
    var line = s + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}
