import Base

@testable import MVCC

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A fresh store over the whole keyspace on an in-memory backend.
func freshStore(_ backend: any MVCCBackend = InMemoryBackend(), id: UInt64 = 2) throws -> MVCCStore {
    try MVCCStore.create(backend: backend, rangeID: RangeID(id), start: [], end: nil)
}

extension MVCCStore {
    @discardableResult
    func put(_ key: String, _ value: String, at rev: Int64, lease: Int64 = 0) throws -> PutResponse {
        try put(PutRequest(key: b(key), value: b(value), lease: lease), revision: rev)
    }

    func get(_ key: String, at rev: Int64 = 0) throws -> KeyValue? {
        try range(RangeRequest(key: b(key), revision: rev)).kvs.first
    }

    func keys(_ r: RangeRequest) throws -> [String] {
        try range(r).kvs.map { String(decoding: $0.key, as: UTF8.self) }
    }
}

/// Evaluates `body` and returns the MVCCError it throws (nil if none or another error).
func mvccError(_ body: () throws -> Void) -> MVCCError? {
    do {
        try body()
        return nil
    } catch let e as MVCCError {
        return e
    } catch {
        return nil
    }
}
