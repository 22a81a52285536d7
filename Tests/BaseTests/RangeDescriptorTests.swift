import Base
import Testing

@Suite struct RangeDescriptorTests {
    static let sample = RangeDescriptor(
        rangeID: RangeID(7), startKey: [0x20, 0x01], endKey: [0x40],
        epoch: .init(confVersion: 3, version: 5),
        replicas: [.init(nodeID: NodeID(1), replicaID: 11), .init(nodeID: NodeID(4), replicaID: 42, role: .learner)])

    @Test func roundTripsThroughTheCodec() throws {
        let d = Self.sample
        #expect(try RangeDescriptor.decode(d.encoded()) == d)
        var open = d
        open.endKey = nil
        open.startKey = []
        #expect(try RangeDescriptor.decode(open.encoded()) == open)
    }

    @Test func randomDescriptorsRoundTrip() throws {
        let seed: UInt64 = 0xD35C
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<200 {
            let start = (0..<Int.random(in: 0...6, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let end: [UInt8]? = Bool.random(using: &rng) ? nil : start + [UInt8.random(in: 0...255, using: &rng)]
            let replicas = (0..<Int.random(in: 0...5, using: &rng)).map { i in
                RangeDescriptor.Replica(nodeID: NodeID(UInt64(i + 1)), replicaID: UInt64.random(in: 1...1000, using: &rng),
                                        role: Bool.random(using: &rng) ? .voter : .learner)
            }
            let d = RangeDescriptor(rangeID: RangeID(UInt64.random(in: 1...1 << 40, using: &rng)), startKey: start,
                                    endKey: end, epoch: .init(confVersion: .random(in: 0...9, using: &rng),
                                                              version: .random(in: 0...9, using: &rng)),
                                    replicas: replicas)
            #expect(try RangeDescriptor.decode(d.encoded()) == d, "seed \(seed): \(d)")
        }
    }

    @Test func truncatedOrCorruptBytesAreRejected() {
        let bytes = Self.sample.encoded()
        for cut in [0, 1, 9, bytes.count - 1] {
            #expect(throws: DecodingError.self) { try RangeDescriptor.decode(Array(bytes.prefix(cut))) }
        }
        var badVersion = bytes
        badVersion[0] = 99
        #expect(throws: DecodingError.self) { try RangeDescriptor.decode(badVersion) }
        var badRole = bytes
        badRole[badRole.count - 1] = 7
        #expect(throws: DecodingError.self) { try RangeDescriptor.decode(badRole) }
        #expect(throws: DecodingError.self) { try RangeDescriptor.decode(bytes + [0]) }
    }

    @Test func containsHonoursBounds() {
        let d = Self.sample
        #expect(d.contains([0x20, 0x01]))
        #expect(d.contains([0x3F, 0xFF, 0xFF]))
        #expect(!d.contains([0x20]))
        #expect(!d.contains([0x40]))
        var tail = d
        tail.endKey = nil
        #expect(tail.contains([0xFF, 0xFF]))
        #expect(d.replica(on: NodeID(4))?.replicaID == 42)
        #expect(d.voters == [11] && d.learners == [42])
        #expect(RangeDescriptor.Epoch(confVersion: 9, version: 1) < RangeDescriptor.Epoch(confVersion: 1, version: 2))
    }
}
