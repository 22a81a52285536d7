import Base
import Testing

@testable import flotctl

/// Drives `PingScanner` the way `PingAnswerer` does (carried-over bytes prepended to the
/// next read) over byte arrays.
private struct Driver {
    var scanner = PingScanner()
    var carry: [UInt8] = []
    var forwarded: [UInt8] = []
    var acks: [[UInt8]] = []

    mutating func read(_ chunk: [UInt8]) {
        let bytes = carry + chunk
        let (pieces, carried) = bytes.withUnsafeBytes { scanner.scan($0) }
        for p in pieces {
            switch p {
            case .forward(let offset, let count): forwarded += bytes[offset..<(offset + count)]
            case .ack(let payload): acks.append(payload)
            }
        }
        carry = Array(bytes.suffix(carried))
    }
}

private func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
    let n = payload.count
    return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, flags,
            UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)]
        + payload
}

@Suite struct PingScannerTests {
    @Test func pingIsAnsweredAndRemovedOtherFramesPassUnchanged() {
        let settings = frame(type: 4, payload: [0, 5, 0, 0, 0x40, 0])
        let ping = frame(type: 6, payload: [2, 4, 16, 16, 9, 14, 7, 7])
        let data = frame(type: 0, flags: 1, stream: 3, payload: Array(repeating: 0xAB, count: 40))
        var d = Driver()
        d.read(settings + ping + data)
        #expect(d.forwarded == settings + data)
        #expect(d.acks == [[2, 4, 16, 16, 9, 14, 7, 7]])
        #expect(d.carry.isEmpty)
        #expect(PingScanner.ackFrame([2, 4, 16, 16, 9, 14, 7, 7]) == frame(type: 6, flags: 1, payload: [2, 4, 16, 16, 9, 14, 7, 7]))
    }

    @Test func pingAcksAndDataThatLooksLikePingPassThrough() {
        // A PING ACK (the server answering ours) and a DATA payload whose bytes spell a PING
        // header must reach the HTTP/2 handler untouched.
        let ack = frame(type: 6, flags: 1, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        let tricky = frame(type: 0, stream: 1, payload: frame(type: 6, payload: [9, 9, 9, 9, 9, 9, 9, 9]))
        var d = Driver()
        d.read(ack + tricky)
        #expect(d.forwarded == ack + tricky)
        #expect(d.acks.isEmpty)
    }

    @Test(arguments: [1, 2, 3, 42, 1000])
    func anySplitOfTheStreamGivesTheSameResult(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var stream: [UInt8] = []
        var expectedForward: [UInt8] = []
        var expectedAcks: [[UInt8]] = []
        for _ in 0..<300 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                let payload = (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) }
                stream += frame(type: 6, payload: payload)
                expectedAcks.append(payload)
            default:
                let type = [0, 1, 3, 4, 8, 6].randomElement(using: &rng)!
                let flags: UInt8 = type == 6 ? 1 : UInt8.random(in: 0...1, using: &rng)
                let size = type == 6 ? 8 : Int.random(in: 0..<300, using: &rng)
                let f = frame(type: UInt8(type), flags: flags, stream: UInt32.random(in: 0...9, using: &rng),
                              payload: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
                stream += f
                expectedForward += f
            }
        }
        var d = Driver()
        var i = 0
        while i < stream.count {
            let n = min(stream.count - i, Int.random(in: 1...64, using: &rng))
            d.read(Array(stream[i..<(i + n)]))
            i += n
        }
        #expect(d.forwarded == expectedForward, "seed \(seed)")
        #expect(d.acks == expectedAcks, "seed \(seed)")
        #expect(d.carry.isEmpty, "seed \(seed)")
    }
}
