import GRPCCore
import Proto
import Testing

/// The gRPC method paths a client dials must be exactly etcd's ("/etcdserverpb.KV/Range"),
/// and every etcd method must be declared.
@Suite struct ServiceDescriptorTests {
    @Test func etcdMethodFullNames() {
        #expect(Etcdserverpb_KV.Method.Range.descriptor.fullyQualifiedMethod == "etcdserverpb.KV/Range")
        #expect(Etcdserverpb_KV.Method.Txn.descriptor.fullyQualifiedMethod == "etcdserverpb.KV/Txn")
        #expect(Etcdserverpb_Watch.Method.Watch.descriptor.fullyQualifiedMethod == "etcdserverpb.Watch/Watch")
        #expect(Etcdserverpb_Lease.Method.LeaseKeepAlive.descriptor.fullyQualifiedMethod
                == "etcdserverpb.Lease/LeaseKeepAlive")
        #expect(Etcdserverpb_Cluster.Method.MemberList.descriptor.fullyQualifiedMethod
                == "etcdserverpb.Cluster/MemberList")
        #expect(Etcdserverpb_Maintenance.Method.Status.descriptor.fullyQualifiedMethod
                == "etcdserverpb.Maintenance/Status")
        #expect(Etcdserverpb_Maintenance.Method.HashKV.descriptor.fullyQualifiedMethod
                == "etcdserverpb.Maintenance/HashKV")
        #expect(Etcdserverpb_Auth.Method.UserChangePassword.descriptor.fullyQualifiedMethod
                == "etcdserverpb.Auth/UserChangePassword")
    }

    @Test func etcdServicesDeclareEveryMethod() {
        let expected: [(String, [MethodDescriptor], [String])] = [
            ("etcdserverpb.KV", Etcdserverpb_KV.Method.descriptors,
             ["Range", "Put", "DeleteRange", "Txn", "Compact"]),
            ("etcdserverpb.Watch", Etcdserverpb_Watch.Method.descriptors, ["Watch"]),
            ("etcdserverpb.Lease", Etcdserverpb_Lease.Method.descriptors,
             ["LeaseGrant", "LeaseRevoke", "LeaseKeepAlive", "LeaseTimeToLive", "LeaseLeases"]),
            ("etcdserverpb.Cluster", Etcdserverpb_Cluster.Method.descriptors,
             ["MemberAdd", "MemberRemove", "MemberUpdate", "MemberList", "MemberPromote"]),
            ("etcdserverpb.Maintenance", Etcdserverpb_Maintenance.Method.descriptors,
             ["Alarm", "Status", "Defragment", "Hash", "HashKV", "Snapshot", "MoveLeader", "Downgrade"]),
            ("etcdserverpb.Auth", Etcdserverpb_Auth.Method.descriptors,
             ["AuthEnable", "AuthDisable", "AuthStatus", "Authenticate", "UserAdd", "UserGet",
              "UserList", "UserDelete", "UserChangePassword", "UserGrantRole", "UserRevokeRole",
              "RoleAdd", "RoleGet", "RoleList", "RoleDelete", "RoleGrantPermission",
              "RoleRevokePermission"]),
        ]
        for (service, descriptors, methods) in expected {
            #expect(descriptors.map(\.method).sorted() == methods.sorted(), "\(service)")
            #expect(descriptors.allSatisfy { $0.service.fullyQualifiedService == service }, "\(service)")
        }
    }

    @Test func streamingShapes() {
        #expect(Etcdserverpb_Watch.Method.Watch.descriptor.type == .bidirectionalStreaming)
        #expect(Etcdserverpb_Lease.Method.LeaseKeepAlive.descriptor.type == .bidirectionalStreaming)
        #expect(Etcdserverpb_Maintenance.Method.Snapshot.descriptor.type == .serverStreaming)
        #expect(Etcdserverpb_KV.Method.Put.descriptor.type == .unary)
        #expect(Flotilla_Peer_Peer.Method.Raft.descriptor.type == .bidirectionalStreaming)
        #expect(Flotilla_Peer_Peer.Method.Snapshot.descriptor.type == .clientStreaming)
        #expect(Flotilla_Peer_Peer.Method.Forward.descriptor.type == .bidirectionalStreaming)
    }

    @Test func peerMethodFullNames() {
        #expect(Flotilla_Peer_Peer.Method.Raft.descriptor.fullyQualifiedMethod == "flotilla.peer.Peer/Raft")
        #expect(Flotilla_Peer_Peer.Method.Snapshot.descriptor.fullyQualifiedMethod == "flotilla.peer.Peer/Snapshot")
        #expect(Flotilla_Peer_Peer.Method.Forward.descriptor.fullyQualifiedMethod == "flotilla.peer.Peer/Forward")
    }
}
