@testable import API
import Foundation
import GRPCCore
import MVCC
import Proto
import Testing

/// etcd's snapshot framing (512-byte multiple + trailing SHA-256) and the SHA-256 under it.
@Suite struct SnapshotFramingTests {
    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func sha256KnownVectors() {
        #expect(Self.hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(Self.hex(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Incremental updates in odd pieces agree with one-shot hashing.
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var s = SHA256()
        var i = 0
        while i < data.count {
            let n = min(data.count - i, 1 + i % 97)
            s.update(data[i..<i + n])
            i += n
        }
        #expect(s.finalize() == SHA256.hash(data))
    }

    @Test func snapshotStreamIsFramedLikeEtcd() async throws {
        let backend = try SingleStoreBackend.inMemory()
        for i in 0..<20 { _ = try await backend.put(PutRequest(key: Array("s/\(i)".utf8), value: Array("v\(i)".utf8))) }
        let bytes: [UInt8] = try await withEtcd(backend) { c in
            try await c.maintenance.snapshot(Etcdserverpb_SnapshotRequest()) { resp in
                var all: [UInt8] = []
                var lastRemaining: UInt64 = .max
                for try await m in resp.messages {
                    all += m.blob
                    #expect(m.remainingBytes < lastRemaining)
                    lastRemaining = m.remainingBytes
                }
                #expect(lastRemaining == 0)
                return all
            }
        }
        #expect(bytes.count % 512 == 32)
        let content = try #require(SnapshotFraming.unwrap(bytes))
        let restored = try MVCCStore.ingestSnapshot(backend: InMemoryBackend(), chunks: [content])
        #expect(restored.currentRevision == 21)
        #expect(try restored.range(RangeRequest(key: Array("s/".utf8), rangeEnd: Array("s0".utf8))).count == 20)
        var corrupted = bytes
        corrupted[10] ^= 1
        #expect(SnapshotFraming.unwrap(corrupted) == nil)
    }
}
