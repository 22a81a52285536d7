import Base
import Node
import Testing

/// `BootstrapConfig`'s system range: range 1 on the first min(3, nodes) nodes, kept out of
/// `descriptors` (the user ranges).
@Suite struct SystemBootstrapTests {
    @Test(arguments: [1, 2, 3, 5]) func systemDescriptorOnTheFirstThreeNodes(nodes n: Int) {
        let b = BootstrapConfig(nodes: (1...n).map { NodeID(UInt64($0)) }, rangeCount: 4)
        let d = b.systemDescriptor
        #expect(d.rangeID == .system)
        #expect(d.replicas.map(\.nodeID) == Array(b.nodes.prefix(3)))
        #expect(d.replicas.allSatisfy { $0.replicaID == $0.nodeID.rawValue && $0.role == .voter })
        #expect(b.intendedLeader(of: .system) == b.nodes[0])
        #expect(b.descriptors.count == 4 && !b.descriptors.contains { $0.rangeID == .system })
        #expect(b.descriptors.first?.startKey == [] && b.descriptors.last?.endKey == nil)
    }
}
