import Foundation
import LZ4
import Testing
import TestThreads

/// Frames interchange with liblz4's reference command-line tool (`lz4`, Debian
/// package `lz4`): an independent check of the header and checksum bytes this
/// module writes itself. Skipped when the tool is not installed.
let referenceTool = "/usr/bin/lz4"

/// Runs the reference tool against this module's frames and vice versa.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: referenceTool)))
struct InteropTests {

    /// Runs `lz4 arguments` with `input` on stdin and returns stdout, or throws with stderr.
    static func run(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory
        let inputURL = directory.appendingPathComponent("flotilla-lz4-\(UInt64.random(in: 0...UInt64.max)).in")
        try Data(input).write(to: inputURL)
        defer { try? FileManager.default.removeItem(at: inputURL) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: referenceTool)
        process.arguments = arguments + ["-c", "-q", inputURL.path]
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError(status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self))
        }
        return [UInt8](output)
    }

    struct CLIError: Error {
        var status: Int32
        var stderr: String
    }

    @Test(arguments: [
        LZ4FrameOptions(),
        LZ4FrameOptions(blockSize: .kib64, independentBlocks: false, blockChecksums: true),
        LZ4FrameOptions(blockSize: .mib4, contentChecksum: false, compressionLevel: 9),
    ])
    func referenceToolDecodesOurFrames(options: LZ4FrameOptions) async throws {
        // Debug-build compression and the reference tool's process: off the cooperative pool.
        try await onOwnThread {
            let seed = baseSeed &+ 8000
            var random = TestRandom(seed: seed)
            let data = random.compressibleBytes(700_000) + random.bytes(3000)
            let frame = try encodeInPieces(data, pieces: [65_537, 1000], options: options)
            expectSameBytes(try Self.run(["-d"], input: frame), data, "options \(options) seed \(seed)")
            // A flipped content-checksum byte is rejected by the reference tool too.
            if options.contentChecksum {
                var corrupt = frame
                corrupt[corrupt.count - 1] ^= 0x01
                #expect(throws: CLIError.self) { _ = try Self.run(["-d"], input: corrupt) }
            }
        }
    }

    @Test(arguments: [["-1"], ["-1", "--content-size", "-BD", "-B4"], ["-9", "-BX", "--no-frame-crc"]])
    func weDecodeReferenceToolFrames(arguments: [String]) async throws {
        // Debug-build compression and the reference tool's process: off the cooperative pool.
        try await onOwnThread {
            let seed = baseSeed &+ 8100
            var random = TestRandom(seed: seed)
            let data = random.compressibleBytes(500_000) + random.bytes(20_000)
            let frame = try Self.run(arguments, input: data)
            let (decoded, _) = try decodeInPieces(frame, pieces: [4096, 77, 100_000])
            expectSameBytes(decoded, data, "lz4 \(arguments) seed \(seed)")
        }
    }
}
