import Base
import NIOCore
import PeerTransport
import Testing

/// The lean peer port's framing, as pure functions: round trips through arbitrary splits,
/// and refusal of oversize, empty, unknown, non-hello-first and HTTP/2 input.
@Suite struct LeanFrameCodecTests {
    static let max = 1 << 20

    static func randomFrame(_ rng: inout SeededGenerator) -> LeanFrame {
        let kind = LeanFrame.Kind.allCases.filter { $0 != .hello }.randomElement(using: &rng)!
        let n = [0, 1, 7, 300, 5_000].randomElement(using: &rng)!
        return LeanFrame(kind, (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// Decodes everything in `buffer` (nil: needs more bytes).
    static func drain(_ buffer: inout ByteBuffer, first: inout Bool) throws(LeanFrameError) -> [LeanFrame] {
        var out: [LeanFrame] = []
        while let f = try LeanFrameCodec.decode(&buffer, maxLength: max, first: first) {
            first = false
            out.append(f)
        }
        return out
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func framesSurviveArbitrarySplits(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let hello = LeanHello(role: .raft, node: NodeID(UInt64.random(in: 1...UInt64.max, using: &rng)))
        let frames = [hello.frame] + (0..<200).map { _ in Self.randomFrame(&rng) }
        var wire = ByteBuffer()
        for f in frames { LeanFrameCodec.encode(f, into: &wire) }
        let bytes = wire.readBytes(length: wire.readableBytes)!
        // Feed the stream in random pieces (1 byte up to 9 KB), as TCP may deliver it.
        var pending = ByteBuffer()
        var got: [LeanFrame] = []
        var first = true
        var at = 0
        while at < bytes.count {
            let n = min(bytes.count - at, Int.random(in: 1...9_000, using: &rng))
            pending.writeBytes(bytes[at..<(at + n)])
            at += n
            got += try Self.drain(&pending, first: &first)
        }
        #expect(got == frames, "seed \(seed)")
        #expect(pending.readableBytes == 0)
        #expect(try LeanHello(got[0]) == hello)
    }

    @Test func refusesMalformedStreams() throws {
        func decode(_ bytes: [UInt8], first: Bool = false) throws(LeanFrameError) -> LeanFrame? {
            var b = ByteBuffer(bytes: bytes)
            return try LeanFrameCodec.decode(&b, maxLength: 100, first: first)
        }
        #expect(throws: LeanFrameError.oversize(length: 101, max: 100)) { try decode([101, 0, 0, 0, 2]) }
        #expect(throws: LeanFrameError.oversize(length: Int(UInt32.max), max: 100)) { try decode([255, 255, 255, 255, 2]) }
        #expect(throws: LeanFrameError.empty) { try decode([0, 0, 0, 0, 2]) }
        #expect(throws: LeanFrameError.unknownKind(0)) { try decode([1, 0, 0, 0, 0]) }
        #expect(throws: LeanFrameError.unknownKind(200)) { try decode([3, 0, 0, 0, 200, 1, 2]) }
        // A gRPC (HTTP/2) peer dialing a lean port, and a non-hello first frame.
        #expect(throws: LeanFrameError.self) { try decode(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), first: true) }
        #expect(throws: LeanFrameError.self) { try decode(Array("PRI ".utf8), first: true) }
        #expect(throws: LeanFrameError.self) { try decode([1, 0, 0, 0, 9], first: true) }
        // An HTTP/2 server's SETTINGS frame answering a lean dialer.
        #expect(throws: LeanFrameError.self) { try decode([0, 0, 18, 4, 0, 0, 0, 0, 0], first: true) }
        // Truncated: not an error yet, just "need more" (the stream's end makes it one).
        #expect(try decode([10, 0, 0, 0, 2, 1, 2]) == nil)
        #expect(try decode([10, 0]) == nil)
        // A hello of another version or role.
        var hello = LeanHello(role: .call, node: NodeID(3)).frame
        hello.payload[4] = 9
        #expect(throws: LeanFrameError.version(9)) { _ = try LeanHello(hello) }
        hello = LeanHello(role: .call, node: NodeID(3)).frame
        hello.payload[6] = 77
        #expect(throws: LeanFrameError.self) { _ = try LeanHello(hello) }
        #expect(throws: LeanFrameError.self) { _ = try LeanHello(LeanFrame(.hello, [1, 2, 3])) }
    }

    @Test(arguments: [UInt64(21), 22, 23])
    func randomBytesNeverCrashTheDecoder(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var valid = ByteBuffer()
        LeanFrameCodec.encode(LeanHello(role: .snapshot, node: NodeID(2)).frame, into: &valid)
        LeanFrameCodec.encode(LeanFrame(.snapshotChunk, [1, 2, 3, 4]), into: &valid)
        let validBytes = valid.readBytes(length: valid.readableBytes)!
        for i in 0..<3_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = validBytes
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                if i % 3 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng))) }
            }
            var buffer = ByteBuffer(bytes: bytes)
            var first = i % 4 < 2
            do {
                for f in try Self.drain(&buffer, first: &first) {
                    // Whatever decodes re-encodes to the same bytes.
                    var again = ByteBuffer()
                    LeanFrameCodec.encode(f, into: &again)
                    #expect(again.readableBytes == 5 + f.payload.count, "seed \(seed) case \(i)")
                }
            } catch {
                // Refused: fine. (Any crash or hang fails the test.)
            }
        }
    }
}
