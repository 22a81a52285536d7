@testable import API
import Foundation
import GRPCCore
import GRPCInProcessTransport
import MVCC
import Proto
import Synchronization
import Testing

/// The self-delimiting snapshot framing (a backend that learns its size only at the end, as
/// the cluster backup does) and the NOSPACE guard on LeaseGrant, through the real services.
@Suite struct UnsizedSnapshotTests {
    /// A SingleStoreBackend whose snapshot is `content` in pieces, of unknown total size.
    struct UnsizedBackend: EtcdMaintenanceBackend {
        let inner: SingleStoreBackend
        let content: [[UInt8]]
        func status() async throws -> StatusInfo { try await inner.status() }
        func alarm(_ action: AlarmAction, memberID: UInt64, alarm: AlarmKind) async throws -> (alarms: [AlarmInfo], revision: Int64) {
            try await inner.alarm(action, memberID: memberID, alarm: alarm)
        }
        func hashKV(revision: Int64) async throws -> HashKVResult { try await inner.hashKV(revision: revision) }
        func snapshot() async throws -> SnapshotStream {
            let content = self.content
            return SnapshotStream(totalBytes: nil, chunks: AsyncThrowingStream { c in
                for piece in content { c.yield(piece) }
                c.finish()
            }, revision: 7)
        }
        func defragment() async throws {}
    }

    static func withServices<R: Sendable>(
        kv: SingleStoreBackend, lease: any EtcdLeaseBackend, maintenance: any EtcdMaintenanceBackend,
        _ body: @Sendable @escaping (EtcdClients) async throws -> R
    ) async throws -> R {
        let transport = InProcessTransport()
        let services = EtcdServer.services(kv: kv, watch: kv, lease: lease, cluster: kv, maintenance: maintenance)
        return try await withGRPCServer(transport: transport.server, services: services) { _ in
            try await withGRPCClient(transport: transport.client) { client in try await body(EtcdClients(client)) }
        }
    }

    @Test(arguments: [0, 1, 504, 511, 512, 513, 2_000])
    func contentPaddedToFiveTwelvePlusDigest(size: Int) async throws {
        let inner = try SingleStoreBackend.inMemory()
        let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 1) }
        let pieces = stride(from: 0, to: content.count, by: 300).map { Array(content[$0..<min($0 + 300, content.count)]) }
        let (bytes, remaining) = try await Self.withServices(
            kv: inner, lease: inner, maintenance: UnsizedBackend(inner: inner, content: pieces)
        ) { c in
            try await c.maintenance.snapshot(Etcdserverpb_SnapshotRequest()) { resp in
                var all: [UInt8] = []
                var remaining: [UInt64] = []
                for try await m in resp.messages {
                    all += m.blob
                    remaining.append(m.remainingBytes)
                }
                return (all, remaining)
            }
        }
        #expect(bytes.count % 512 == 32 && bytes.count >= size + 32, "size \(size): \(bytes.count) bytes")
        #expect(Array(bytes.prefix(size)) == content)
        #expect(bytes[size..<(bytes.count - 32)].allSatisfy { $0 == 0 })
        #expect(Array(bytes.suffix(32)) == SHA256.hash(bytes.dropLast(32)))
        #expect(remaining.last == 0 && remaining.dropLast().allSatisfy { $0 == 1 }, "\(remaining)")
    }

    @Test func leaseGrantRefusedUnderNoSpace() async throws {
        let inner = try SingleStoreBackend.inMemory()
        let noSpace = Mutex(false)
        let guarded = QuotaLeaseBackend(inner: inner, noSpace: { noSpace.withLock { $0 } })
        try await Self.withServices(kv: inner, lease: guarded, maintenance: inner) { c in
            var grant = Etcdserverpb_LeaseGrantRequest()
            grant.ttl = 60
            let first = try await c.lease.leaseGrant(grant)
            noSpace.withLock { $0 = true }
            let refused = await rpcError { _ = try await c.lease.leaseGrant(grant) }
            #expect(refused?.code == .resourceExhausted && refused?.message == "etcdserver: mvcc: database space exceeded",
                    "\(String(describing: refused))")
            // Everything but Grant still works while the alarm is up.
            var ttl = Etcdserverpb_LeaseTimeToLiveRequest()
            ttl.id = first.id
            #expect(try await c.lease.leaseTimeToLive(ttl).grantedTtl == 60)
            #expect(try await c.lease.leaseLeases(Etcdserverpb_LeaseLeasesRequest()).leases.map(\.id) == [first.id])
            var revoke = Etcdserverpb_LeaseRevokeRequest()
            revoke.id = first.id
            _ = try await c.lease.leaseRevoke(revoke)
            noSpace.withLock { $0 = false }
            #expect(try await c.lease.leaseGrant(grant).id != 0)
        }
    }
}
