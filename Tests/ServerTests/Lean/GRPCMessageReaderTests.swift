import Base
import NIOCore
@testable import Server
import Testing

/// The gRPC length-prefixed message reader, `grpc-timeout` parsing and `grpc-message`
/// percent-encoding of the lean HTTP/2 path.
@Suite struct GRPCMessageReaderTests {
    /// Messages framed back to back and cut into random pieces come out whole and in order.
    @Test func randomSplitsYieldTheSameMessages() throws {
        for seed in UInt64(1)...200 {
            var rng = SeededGenerator(seed: seed)
            let messages: [[UInt8]] = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            var wire = ByteBuffer()
            for m in messages { GRPCMessageReader.write(ByteBuffer(bytes: m), into: &wire) }
            var reader = GRPCMessageReader(maxMessageBytes: 1000)
            var got: [[UInt8]] = []
            while wire.readableBytes > 0 {
                let piece = wire.readSlice(length: Int.random(in: 1...max(1, wire.readableBytes), using: &rng))!
                reader.append(piece)
                while let m = try reader.next() { got.append(Array(m.readableBytesView)) }
            }
            #expect(got == messages, "seed \(seed)")
            #expect(reader.bufferedBytes == 0, "seed \(seed)")
        }
    }

    @Test func compressedFlagAndOversizeAreErrors() throws {
        var reader = GRPCMessageReader(maxMessageBytes: 10)
        reader.append(ByteBuffer(bytes: [1, 0, 0, 0, 1, 7]))
        #expect(throws: GRPCMessageReader.Failure.compressed(flag: 1)) { try reader.next() }

        var big = GRPCMessageReader(maxMessageBytes: 10)
        big.append(ByteBuffer(bytes: [0, 0, 0, 0, 11]))  // the header alone is enough to refuse
        #expect(throws: GRPCMessageReader.Failure.tooLarge(length: 11, limit: 10)) { try big.next() }

        var exact = GRPCMessageReader(maxMessageBytes: 10)
        exact.append(ByteBuffer(bytes: [0, 0, 0, 0, 10] + [UInt8](repeating: 3, count: 10)))
        #expect(try exact.next()?.readableBytes == 10)
    }

    /// Random bytes give messages, "need more" or an error; never a crash or a runaway loop.
    @Test func randomBytesNeverCrash() {
        for seed in UInt64(1)...500 {
            var rng = SeededGenerator(seed: seed)
            var reader = GRPCMessageReader(maxMessageBytes: 64)
            let bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in
                // Bias towards small lengths so that some inputs parse.
                Bool.random(using: &rng) ? UInt8(0) : UInt8.random(in: 0...255, using: &rng)
            }
            reader.append(ByteBuffer(bytes: bytes))
            var consumed = 0
            do {
                while let m = try reader.next() { consumed += 5 + m.readableBytes }
            } catch {}
            #expect(consumed <= bytes.count, "seed \(seed)")
        }
    }

    @Test func grpcTimeout() {
        #expect(GRPCTimeout.parse("5S") == 5_000_000_000)
        #expect(GRPCTimeout.parse("100m") == 100_000_000)
        #expect(GRPCTimeout.parse("2H") == 7_200_000_000_000)
        #expect(GRPCTimeout.parse("7n") == 7)
        #expect(GRPCTimeout.parse("99999999u") == 99_999_999_000)
        #expect(GRPCTimeout.parse("S") == nil)
        #expect(GRPCTimeout.parse("123456789S") == nil)  // at most 8 digits
        #expect(GRPCTimeout.parse("5x") == nil)
        #expect(GRPCTimeout.parse("-5S") == nil)
        #expect(GRPCTimeout.parse("") == nil)
    }

    @Test func grpcMessagePercentEncoding() {
        #expect(GRPCStatusMessage.percentEncoded("etcdserver: key not found") == "etcdserver: key not found")
        #expect(GRPCStatusMessage.percentEncoded("50%\n") == "50%25%0A")
        #expect(GRPCStatusMessage.percentEncoded("é") == "%C3%A9")
    }
}
