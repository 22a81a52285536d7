/// The value of a record in the records bucket. A put is
/// `[0x00][create_revision i64 BE][version i64 BE][lease i64 BE][value bytes…]`; a
/// tombstone is the single byte `[0x01]` (etcd stores a tombstone as a key-only KeyValue).
/// The mod revision is the record key's revision. Pure functions; owns nothing.
enum RecordValue {
    static let putTag: UInt8 = 0
    static let tombstoneTag: UInt8 = 1
    static let headerCount = 25

    static func put(create: Int64, version: Int64, lease: Int64, value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerCount + value.count)
        out.append(putTag)
        appendBigEndian(UInt64(bitPattern: create), to: &out)
        appendBigEndian(UInt64(bitPattern: version), to: &out)
        appendBigEndian(UInt64(bitPattern: lease), to: &out)
        out.append(contentsOf: value)
        return out
    }

    static let tombstone: [UInt8] = [tombstoneTag]

    static func isTombstone(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw.count >= 1 && raw[0] == tombstoneTag
    }

    /// The KeyValue a record describes; nil for a tombstone or a malformed record.
    static func decodePut(key: [UInt8], rev: Revision, _ raw: UnsafeRawBufferPointer, withValue: Bool = true) -> KeyValue? {
        guard raw.count >= headerCount, raw[0] == putTag else { return nil }
        return KeyValue(
            key: key,
            createRevision: Int64(bitPattern: readBigEndian(raw, at: 1)),
            modRevision: rev.main,
            version: Int64(bitPattern: readBigEndian(raw, at: 9)),
            value: withValue ? Array(raw[headerCount...]) : [],
            lease: Int64(bitPattern: readBigEndian(raw, at: 17)))
    }
}
