import ArgumentParser
import Base
import CLZ4
import LZ4

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flotilla-bench lz4`: streaming LZ4 frame throughput on snapshot-like data.
///
/// Generates `--mebibytes` of key-value records (see `SnapshotLikeData`), then
/// compresses and decompresses them through `LZ4FrameCompressor` /
/// `LZ4FrameDecompressor` in `--piece-kib` pieces, `--repeats` times each, and
/// prints the best and median throughput (MB = 10^6 bytes, as `lz4 -b` prints)
/// and the ratio. The decoded output is verified once against the input.
/// `Tools/bench-lz4` runs this next to liblz4's own `lz4 -b1`.
///
/// Decompression writes into one 64 MiB result buffer, as `lz4 -b` does:
/// `--output direct` (default) decodes straight into it with
/// `decompress(_:into:)`; `copy` goes through the sink API and copies each chunk
/// in; `discard` uses the sink API and only counts bytes.
///
/// Each timed decompression pass is followed by a pass of `RawBlockReference`,
/// `lz4 -b`'s method in-process (raw blocks, `LZ4_decompress_safe`, no frame or
/// checksum), so the two see the same machine load; the ratio of their medians
/// is printed as `vs_raw_blocks`.
struct LZ4Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lz4", abstract: "Streaming LZ4 frame compress/decompress throughput.")

    @Option(help: "Size of the generated data, in MiB.") var mebibytes = 64
    @Option(help: "Seed for the data generator.") var seed: UInt64 = 17
    @Option(help: "Size of each piece fed to the compressor and decompressor, in KiB.") var pieceKib = 1024
    @Option(help: "Timed passes per direction (best and median reported).") var repeats = 7
    @Option(help: "Frame block size: 64k, 256k, 1m or 4m.") var blockSize = "256k"
    @Option(help: "Compression level (0 = fast; negative = faster; 3...12 = HC).") var level = 0
    @Flag(help: "Enable per-block checksums (off by default, as in LZ4FrameOptions).") var blockChecksums = false
    @Flag(help: "Disable the content checksum.") var noContentChecksum = false
    @Option(help: "Decompression output: direct (into the result buffer), copy (sink copies into it) or discard (sink counts).")
    var output = "direct"
    @Option(help: "Content checksum hashing while decoding: default (automatic), pipelined (background queue) or inline.")
    var checksumHashing = "default"
    @Option(help: "Also write the generated data to this file (for lz4 -b).") var writeData: String?
    @Flag(help: "Also time liblz4's own frame decoder (LZ4F_decompress, checksums verified by liblz4) on the same frame.")
    var liblz4Frame = false

    func validate() throws {
        guard mebibytes > 0, pieceKib > 0, repeats > 0 else {
            throw ValidationError("--mebibytes, --piece-kib and --repeats must be positive")
        }
        guard ["direct", "copy", "discard"].contains(output) else {
            throw ValidationError("--output must be direct, copy or discard")
        }
        guard ["default", "pipelined", "inline"].contains(checksumHashing) else {
            throw ValidationError("--checksum-hashing must be default, pipelined or inline")
        }
    }

    func run() throws {
        let options = LZ4FrameOptions(
            blockSize: try parseBlockSize(), contentChecksum: !noContentChecksum,
            blockChecksums: blockChecksums, compressionLevel: level)
        let data = SnapshotLikeData.generate(bytes: mebibytes << 20, seed: seed)
        if let path = writeData { try write(data, to: path) }
        let piece = pieceKib << 10

        var frame: [UInt8] = []
        let compressor = try LZ4FrameCompressor(options: options)
        let compressTimes = try (0...repeats).map { _ in
            try time {
                frame.removeAll(keepingCapacity: true)
                try compress(data, piece: piece, with: compressor, into: &frame)
            }
        }.dropFirst()  // the first pass warms caches and sizes `frame`

        var restored = [UInt8](repeating: 0, count: data.count)
        let decompressor = switch checksumHashing {
        case "pipelined": try LZ4FrameDecompressor(contentHashing: .pipelined)
        case "inline": try LZ4FrameDecompressor(contentHashing: .inline)
        default: try LZ4FrameDecompressor()
        }
        // Untimed verification pass (writing the output), then the timed passes.
        try decompress(frame, piece: piece, with: decompressor, into: &restored, mode: output == "discard" ? "copy" : output)
        guard restored == data else { throw ValidationError("round trip mismatch (seed \(seed))") }
        let reference = try RawBlockReference(data, blockBytes: options.blockSize.bytes)
        try reference.decompress(into: &restored)
        guard restored == data else { throw ValidationError("raw block reference mismatch (seed \(seed))") }
        var referenceTimes: [(wall: Double, cpu: Double, processCPU: Double)] = []
        var libraryFrameTimes: [(wall: Double, cpu: Double, processCPU: Double)] = []
        let decompressTimes = try (0..<repeats).map { _ in
            let ours = try time {
                decompressor.reset()
                try decompress(frame, piece: piece, with: decompressor, into: &restored, mode: output)
            }
            referenceTimes.append(try time { try reference.decompress(into: &restored) })
            if liblz4Frame { libraryFrameTimes.append(try time { try decompressWithLibraryFrameDecoder(frame, into: &restored) }) }
            return ours
        }

        var checksum: UInt32 = 0
        let hashTimes = try (0..<repeats).map { _ in
            try time { checksum ^= data.withUnsafeBytes { LZ4Frame.contentChecksum($0) } }
        }

        let mb = Double(data.count) / 1e6
        print("data: \(data.count) bytes snapshot-like records, seed \(seed); pieces \(pieceKib) KiB;",
              "block \(blockSize), level \(level), block checksums \(blockChecksums),",
              "content checksum \(!noContentChecksum) (hashing \(checksumHashing)), output \(output)")
        print("ratio: \(format(Double(data.count) / Double(frame.count))) (\(frame.count) bytes compressed)")
        report("compress", mb: mb, times: Array(compressTimes))
        report("decompress", mb: mb, times: decompressTimes)
        report("raw_blocks_decompress", mb: mb, times: referenceTimes)
        if liblz4Frame {
            guard restored == data else { throw ValidationError("LZ4F_decompress mismatch (seed \(seed))") }
            report("liblz4_frame_decompress", mb: mb, times: libraryFrameTimes)
        }
        let median = { (times: [(wall: Double, cpu: Double, processCPU: Double)]) in times.map(\.wall).sorted()[times.count / 2] }
        let best = { (times: [(wall: Double, cpu: Double, processCPU: Double)]) in times.map(\.wall).min()! }
        print("decompress vs raw blocks (same passes, interleaved): median \(format(100 * median(referenceTimes) / median(decompressTimes)))%,",
              "best \(format(100 * best(referenceTimes) / best(decompressTimes)))%")
        print("vs_raw_blocks_median_pct=\(format(100 * median(referenceTimes) / median(decompressTimes)))")
        report("xxh32", mb: mb, times: hashTimes)
        if checksum == 0x5EED { print("(checksum \(checksum))") }  // keeps the hashing observable
    }

    private func compress(_ data: [UInt8], piece: Int, with compressor: LZ4FrameCompressor, into frame: inout [UInt8]) throws {
        try data.withUnsafeBytes { input in
            try compressor.begin { frame.append(contentsOf: $0) }
            var offset = 0
            while offset < input.count {
                let end = min(offset + piece, input.count)
                try compressor.update(UnsafeRawBufferPointer(rebasing: input[offset..<end])) { frame.append(contentsOf: $0) }
                offset = end
            }
            try compressor.end { frame.append(contentsOf: $0) }
        }
    }

    /// Decodes `frame` fed in `piece`-byte pieces into `output` (see `--output`).
    private func decompress(
        _ frame: [UInt8], piece: Int, with decompressor: LZ4FrameDecompressor, into output: inout [UInt8], mode: String
    ) throws {
        let copy = mode == "copy"
        try output.withUnsafeMutableBytes { out in
            var written = 0
            try frame.withUnsafeBytes { input in
                var offset = 0
                while offset < input.count {
                    let end = min(offset + piece, input.count)
                    if mode == "direct" {
                        var rest = UnsafeRawBufferPointer(rebasing: input[offset..<end])
                        while !rest.isEmpty {
                            let (read, wrote) = try decompressor.decompress(rest, into: UnsafeMutableRawBufferPointer(rebasing: out[written...]))
                            guard read > 0 || wrote > 0 else { throw ValidationError("output overflow") }
                            written += wrote
                            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(read))
                        }
                        offset = end
                        continue
                    }
                    try decompressor.decompress(UnsafeRawBufferPointer(rebasing: input[offset..<end])) { chunk in
                        guard chunk.count <= out.count - written else { throw ValidationError("output overflow") }
                        if copy { out.baseAddress!.advanced(by: written).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count) }
                        written += chunk.count
                    }
                    offset = end
                }
            }
            try decompressor.finish()
            guard written == out.count else { throw ValidationError("decoded \(written) of \(out.count) bytes") }
        }
    }

    /// liblz4's own frame decoder over the whole frame in one call into `output`,
    /// verifying every checksum itself (what `lz4 -d` does, minus file I/O).
    private func decompressWithLibraryFrameDecoder(_ frame: [UInt8], into output: inout [UInt8]) throws {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw ValidationError("LZ4F_createDecompressionContext failed")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        try frame.withUnsafeBytes { input in
            try output.withUnsafeMutableBytes { out in
                var consumed = input.count
                var produced = out.count
                let hint = LZ4F_decompress(context, out.baseAddress, &produced, input.baseAddress, &consumed, nil)
                guard LZ4F_isError(hint) == 0, hint == 0, produced == out.count, consumed == input.count else {
                    throw ValidationError("LZ4F_decompress did not decode the whole frame")
                }
            }
        }
    }

    private func parseBlockSize() throws -> LZ4FrameOptions.BlockSize {
        switch blockSize.lowercased() {
        case "64k": return .kib64
        case "256k": return .kib256
        case "1m": return .mib1
        case "4m": return .mib4
        default: throw ValidationError("--block-size must be 64k, 256k, 1m or 4m")
        }
    }

    /// Wall-clock, calling-thread CPU and whole-process CPU seconds of one pass.
    /// Wall clock is what `lz4 -b` reports; the thread's CPU time shows how much
    /// of the wall time other load stole; the process's adds background hashing.
    private func time(_ body: () throws -> Void) throws -> (wall: Double, cpu: Double, processCPU: Double) {
        let clock = ContinuousClock()
        let cpuStart = cpuSeconds(CLOCK_THREAD_CPUTIME_ID)
        let processStart = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID)
        let start = clock.now
        try body()
        let elapsed = clock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (wall, cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - cpuStart, cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - processStart)
    }

    private func cpuSeconds(_ clock: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    private func report(_ name: String, mb: Double, times: [(wall: Double, cpu: Double, processCPU: Double)]) {
        let walls = times.map(\.wall).sorted()
        let best = mb / walls[0]
        let median = mb / walls[walls.count / 2]
        let cpuBest = mb / times.map(\.cpu).min()!
        let processBest = mb / times.map(\.processCPU).min()!
        print("\(name): best \(format(best)) MB/s, median \(format(median)) MB/s over \(times.count) passes",
              "(CPU-time best: thread \(format(cpuBest)) MB/s, process \(format(processBest)) MB/s)")
        print("\(name)_best_MBps=\(format(best))")
        print("\(name)_median_MBps=\(format(median))")
    }

    private func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return "\(scaled)"
    }

    private func write(_ data: [UInt8], to path: String) throws {
        guard let file = fopen(path, "wb") else { throw ValidationError("cannot open \(path)") }
        defer { fclose(file) }
        let written = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == data.count else { throw ValidationError("short write to \(path)") }
    }
}

/// `lz4 -b`'s decompression measurement, in-process: the data cut into blocks of
/// the frame's block size, each compressed with `LZ4_compress_default`, and
/// decoded with `LZ4_decompress_safe` into one result buffer (no frame, no
/// checksum), as lz4's programs/bench.c does.
struct RawBlockReference {
    /// Compressed bytes of every block, back to back, and each block's (offset, compressed, original) sizes.
    private let compressed: [UInt8]
    private let blocks: [(offset: Int, compressedBytes: Int, originalBytes: Int)]

    init(_ data: [UInt8], blockBytes: Int) throws {
        var compressed: [UInt8] = []
        var blocks: [(offset: Int, compressedBytes: Int, originalBytes: Int)] = []
        let bound = Int(LZ4_compressBound(Int32(blockBytes)))
        var scratch = [UInt8](repeating: 0, count: bound)
        try data.withUnsafeBytes { input in
            var offset = 0
            while offset < input.count {
                let count = min(blockBytes, input.count - offset)
                let written = scratch.withUnsafeMutableBytes { out in
                    LZ4_compress_default(
                        input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                        out.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(count), Int32(bound))
                }
                guard written > 0 else { throw ValidationError("LZ4_compress_default failed") }
                blocks.append((compressed.count, Int(written), count))
                compressed.append(contentsOf: scratch[0..<Int(written)])
                offset += count
            }
        }
        self.compressed = compressed
        self.blocks = blocks
    }

    /// Decodes every block into `output` (which must be the original size).
    func decompress(into output: inout [UInt8]) throws {
        try compressed.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { destination in
                var written = 0
                for block in blocks {
                    let decoded = LZ4_decompress_safe(
                        source.baseAddress!.advanced(by: block.offset).assumingMemoryBound(to: CChar.self),
                        destination.baseAddress!.advanced(by: written).assumingMemoryBound(to: CChar.self),
                        Int32(block.compressedBytes), Int32(destination.count - written))
                    guard Int(decoded) == block.originalBytes else { throw ValidationError("LZ4_decompress_safe failed") }
                    written += block.originalBytes
                }
            }
        }
    }
}

/// Deterministic stand-in for a range snapshot: a stream of records
/// `varint(keyLength) key varint(valueLength) value`, where keys look like
/// Kubernetes registry keys (`/registry/pods/ns-17/pod-abc123`) and values are
/// JSON-ish objects with repeated field names, a random UID, resource versions,
/// labels, node names and IPs. Roughly what etcd stores for a cluster; the
/// random identifiers keep it from compressing unrealistically well.
enum SnapshotLikeData {
    private static let resources: [(path: String, kind: String, prefix: String)] = [
        ("pods", "Pod", "pod"), ("services", "Service", "svc"), ("configmaps", "ConfigMap", "cm"),
        ("deployments", "Deployment", "deploy"), ("events", "Event", "evt"), ("secrets", "Secret", "sec"),
    ]
    private static let apps = ["web", "api", "worker", "cache", "db", "ingress", "metrics", "batch"]
    private static let phases = ["Running", "Pending", "Succeeded", "Running", "Running"]

    static func generate(bytes: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(bytes + 4096)
        var revision: UInt64 = 1_000_000
        while out.count < bytes {
            let resource = resources[Int(random.next() % UInt64(resources.count))]
            let namespace = "ns-\(random.next() % 40)"
            let app = apps[Int(random.next() % UInt64(apps.count))]
            let name = "\(resource.prefix)-\(app)-\(hex(random.next(), digits: 6))"
            revision += 1 + random.next() % 7
            let key = "/registry/\(resource.path)/\(namespace)/\(name)"
            let value = """
                {"kind":"\(resource.kind)","apiVersion":"v1","metadata":{"name":"\(name)","namespace":"\(namespace)",\
                "uid":"\(uuid(&random))","resourceVersion":"\(revision)","creationTimestamp":"2026-11-\(10 + random.next() % 20)T\
                \(10 + random.next() % 14):\(10 + random.next() % 50):\(10 + random.next() % 50)Z","labels":{"app":"\(app)",\
                "tier":"\(random.next() % 2 == 0 ? "frontend" : "backend")","release":"r\(random.next() % 12)"}},\
                "spec":{"nodeName":"node-\(random.next() % 200)","containers":[{"name":"\(app)","image":\
                "registry.example.com/\(app):1.\(random.next() % 30).\(random.next() % 10)","resources":{"requests":\
                {"cpu":"\(100 * (1 + random.next() % 8))m","memory":"\(64 << (random.next() % 5))Mi"}}}]},\
                "status":{"phase":"\(phases[Int(random.next() % UInt64(phases.count))])","podIP":"10.\(random.next() % 256).\
                \(random.next() % 256).\(random.next() % 256)"}}
                """
            appendRecord(key: Array(key.utf8), value: Array(value.utf8), to: &out)
        }
        out.removeLast(out.count - bytes)
        return out
    }

    private static func appendRecord(key: [UInt8], value: [UInt8], to out: inout [UInt8]) {
        appendVarint(UInt64(key.count), to: &out)
        out.append(contentsOf: key)
        appendVarint(UInt64(value.count), to: &out)
        out.append(contentsOf: value)
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func uuid(_ random: inout SeededGenerator) -> String {
        let a = random.next(), b = random.next()
        return "\(hex(a >> 32, digits: 8))-\(hex(a >> 16, digits: 4))-\(hex(a, digits: 4))-\(hex(b >> 48, digits: 4))-\(hex(b, digits: 12))"
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let mask: UInt64 = digits >= 16 ? .max : (1 << (4 * UInt64(digits))) - 1
        let text = String(value & mask, radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }
}
