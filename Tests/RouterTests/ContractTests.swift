import Base
import Node
import Router
import Testing

/// The routing value types keep what they are given.
@Suite struct ContractTests {
    @Test func routeKeepsDescriptorAndHint() {
        let d = RangeDescriptor(rangeID: RangeID(2), startKey: [], endKey: [0x80],
                                replicas: [RangeDescriptor.Replica(nodeID: NodeID(1), replicaID: 1)])
        let r = RangeRoute(descriptor: d, leaderHint: NodeID(1))
        #expect(r.descriptor.endKey == [0x80])
        #expect(r.leaderHint == NodeID(1))
    }
}
