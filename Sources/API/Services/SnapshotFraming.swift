/// etcd's snapshot stream framing, which `etcdctl snapshot save` checks: the bytes are a
/// multiple of 512 plus a trailing SHA-256 of everything before it (bbolt files are
/// page-aligned; etcd appends the digest). Two forms, chosen by whether the backend knows
/// the content's size up front (`SnapshotStream.totalBytes`):
/// - sized (one-store backends): `[u64 BE content length][content][zero padding to 512][sha256]`;
///   `unwrap` checks and removes it;
/// - self-delimiting (the cluster backup, `ClusterBackup` in Server, whose end frame marks
///   where the content stops): `[content][zero padding to 512][sha256]`.
/// Pure functions over bytes.
public enum SnapshotFraming {
    static let alignment = 512

    /// Bytes of the framed stream for `contentBytes` of content.
    static func framedSize(contentBytes: UInt64) -> UInt64 {
        let body = 8 + contentBytes
        let padded = (body + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
        return padded + 32
    }

    static func prefix(contentBytes: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: contentBytes >> (UInt64($0) * 8)) }
    }

    static func padding(contentBytes: UInt64) -> [UInt8] {
        padding(afterBytes: 8 + contentBytes)
    }

    /// Zeros that bring `bytes` streamed so far to a multiple of 512.
    static func padding(afterBytes bytes: UInt64) -> [UInt8] {
        let body = Int(bytes % UInt64(alignment))
        return [UInt8](repeating: 0, count: (alignment - body % alignment) % alignment)
    }

    /// The content of a framed snapshot; nil when the digest or the length does not match.
    public static func unwrap(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 8 + 32, (bytes.count - 32) % alignment == 0 else { return nil }
        let body = bytes[..<(bytes.count - 32)]
        guard SHA256.hash(body) == Array(bytes[(bytes.count - 32)...]) else { return nil }
        let length = bytes[..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(body.count - 8) else { return nil }
        return Array(bytes[8..<(8 + Int(length))])
    }
}
