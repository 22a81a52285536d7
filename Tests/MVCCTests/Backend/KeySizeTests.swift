#if canImport(Glibc)
import Glibc
#endif
import Base
import PageStore
import Testing

@testable import MVCC

/// The explicit key size limit: the longest key a put accepts is stored, committed and read
/// back from a real file (with 0x00 bytes that the record key escapes); one byte more is
/// refused before anything changes.
@Suite struct KeySizeTests {
    @Test func longestAcceptedKeysRoundTripThroughTheFile() throws {
        let path = "/tmp/flotilla-mvcc-keysize-\(getpid()).db"
        unlink(path)
        defer { unlink(path) }
        let plain = [UInt8](repeating: 0x61, count: RequestValidation.maxKeySize(for: [0x61]))
        var zeros = [UInt8](repeating: 0, count: 100) + [UInt8](repeating: 0x62, count: 700)
        zeros += [UInt8](repeating: 0x63, count: RequestValidation.maxKeySize(for: zeros) - zeros.count)
        #expect(plain.count == 974)
        #expect(zeros.count == 874)
        do {
            let backend = try PageStoreBackend.open(path: path)
            let s = try freshStore(backend)
            _ = try s.put(PutRequest(key: plain, value: b("p"), lease: 5), revision: 2)
            _ = try s.put(PutRequest(key: zeros, value: b("z")), revision: 3)
            #expect(mvccError { _ = try s.put(PutRequest(key: plain + [0x61], value: b("x")), revision: 4) }
                == .keyTooLarge(size: 975, max: 974))
            #expect(mvccError { _ = try s.put(PutRequest(key: zeros + [0], value: b("x")), revision: 4) }
                == .keyTooLarge(size: 875, max: 873))
            let bigTxn = TxnRequest(success: [.put(PutRequest(key: plain + [1], value: b("x")))])
            #expect(mvccError { _ = try s.txn(bigTxn, revision: 4) } == .keyTooLarge(size: 975, max: 974))
            #expect(MVCCError.keyTooLarge(size: 975, max: 974).grpcCode == .invalidArgument)
            #expect(s.currentRevision == 3)
            try s.commit(appliedIndex: 3)
            _ = try s.deleteRange(DeleteRangeRequest(key: zeros), revision: 4)
            try s.commit(appliedIndex: 4)
            backend.file.close()
        }
        let backend = try PageStoreBackend.open(path: path)
        let s = try MVCCStore.open(backend: backend, rangeID: RangeID(2))
        #expect(try s.range(RangeRequest(key: plain)).kvs.first?.value == b("p"))
        #expect(try s.keys(attachedTo: 5) == [plain])
        #expect(try s.range(RangeRequest(key: zeros, revision: 3)).kvs.first?.value == b("z"))
        #expect(try s.range(RangeRequest(key: zeros)).kvs.isEmpty)
        // Reads of longer keys simply find nothing.
        #expect(try s.range(RangeRequest(key: plain + plain)).kvs.isEmpty)
        backend.file.close()
    }
}
