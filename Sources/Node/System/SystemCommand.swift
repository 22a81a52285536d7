public import Base

/// A command of the system range, carried in `RaftCommand.Body.system(bytes)` and applied
/// by `SystemStateMachine` on every replica of range 1.
///
/// Binary form (little-endian): `[u8 version = 1][u8 kind] fields`; kinds:
/// 1 allocateRevisions `i64 count`, 2 grantLease `i64 id, i64 ttl`, 3 removeLease `i64 id`,
/// 4 markLeaseRevoking `i64 id`. Unknown versions or kinds and trailing bytes are decoding errors.
public enum SystemCommand: Sendable, Equatable {
    /// Raise the oracle's high-water mark by `count` and hand the new block to the leader.
    case allocateRevisions(count: Int64)
    /// Record lease `id` with `ttl` seconds (already raised to the minimum TTL); refused
    /// when `id` is live.
    case grantLease(id: Int64, ttl: Int64)
    /// Delete the lease record `id`.
    case removeLease(id: Int64)
    /// The first step of a revoke (client revoke and expiry alike): mark lease `id`
    /// "revoking". From then on it is gone for every observer (lookups, keep-alives and the
    /// lease list miss it; its ID stays taken until `removeLease`), and the expiry loop
    /// finishes the revoke if the router that began it does not. Idempotent.
    case markLeaseRevoking(id: Int64)

    static let codecVersion: UInt8 = 1

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 18)
        w.write(Self.codecVersion)
        switch self {
        case .allocateRevisions(let count):
            w.write(UInt8(1))
            w.write(count)
        case .grantLease(let id, let ttl):
            w.write(UInt8(2))
            w.write(id)
            w.write(ttl)
        case .removeLease(let id):
            w.write(UInt8(3))
            w.write(id)
        case .markLeaseRevoking(let id):
            w.write(UInt8(4))
            w.write(id)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SystemCommand {
        let r: Result<SystemCommand, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try reader.read(UInt8.self)
                guard v == codecVersion else { throw DecodingError("unknown system command version \(v)", offset: 0) }
                let kind = try reader.read(UInt8.self)
                let cmd: SystemCommand
                switch kind {
                case 1: cmd = .allocateRevisions(count: try reader.read())
                case 2: cmd = .grantLease(id: try reader.read(), ttl: try reader.read())
                case 3: cmd = .removeLease(id: try reader.read())
                case 4: cmd = .markLeaseRevoking(id: try reader.read())
                default: throw DecodingError("unknown system command kind \(kind)", offset: 1)
                }
                guard reader.isAtEnd else { throw DecodingError("trailing bytes after system command", offset: reader.offset) }
                return .success(cmd)
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }
}

/// The answer to a `SystemCommand`, carried in `CommandResult.system(bytes)`.
///
/// Binary form: `[u8 version = 1][u8 kind] fields`; kinds: 1 revisions `i64 first, i64 last`,
/// 2 leaseGranted `i64 id, i64 ttl`, 3 leaseExists `i64 id`, 4 leaseRemoved `u8 existed`,
/// 5 leaseRevoking `i64 id, i64 ttl, i64 grantRevision`, 6 leaseUnknown `i64 id`.
public enum SystemAnswer: Sendable, Equatable {
    /// The oracle block `first...last`, above every block allocated before.
    case revisions(first: Int64, last: Int64)
    case leaseGranted(id: Int64, ttl: Int64)
    /// The grant was refused: the ID is live.
    case leaseExists(id: Int64)
    case leaseRemoved(existed: Bool)
    /// The lease is (now, or was already) revoking; `grantRevision` identifies its grant
    /// (the record's create revision in range 1, `LeaseRecord.grantRevision`).
    case leaseRevoking(id: Int64, ttl: Int64, grantRevision: Int64)
    /// No record of the lease (never granted, or removed).
    case leaseUnknown(id: Int64)

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 26)
        w.write(SystemCommand.codecVersion)
        switch self {
        case .revisions(let first, let last):
            w.write(UInt8(1))
            w.write(first)
            w.write(last)
        case .leaseGranted(let id, let ttl):
            w.write(UInt8(2))
            w.write(id)
            w.write(ttl)
        case .leaseExists(let id):
            w.write(UInt8(3))
            w.write(id)
        case .leaseRemoved(let existed):
            w.write(UInt8(4))
            w.write(UInt8(existed ? 1 : 0))
        case .leaseRevoking(let id, let ttl, let grantRevision):
            w.write(UInt8(5))
            w.write(id)
            w.write(ttl)
            w.write(grantRevision)
        case .leaseUnknown(let id):
            w.write(UInt8(6))
            w.write(id)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SystemAnswer {
        let r: Result<SystemAnswer, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try reader.read(UInt8.self)
                guard v == SystemCommand.codecVersion else {
                    throw DecodingError("unknown system answer version \(v)", offset: 0)
                }
                let kind = try reader.read(UInt8.self)
                let answer: SystemAnswer
                switch kind {
                case 1: answer = .revisions(first: try reader.read(), last: try reader.read())
                case 2: answer = .leaseGranted(id: try reader.read(), ttl: try reader.read())
                case 3: answer = .leaseExists(id: try reader.read())
                case 4:
                    let b = try reader.read(UInt8.self)
                    guard b <= 1 else { throw DecodingError("bad flag \(b)", offset: reader.offset - 1) }
                    answer = .leaseRemoved(existed: b == 1)
                case 5: answer = .leaseRevoking(id: try reader.read(), ttl: try reader.read(), grantRevision: try reader.read())
                case 6: answer = .leaseUnknown(id: try reader.read())
                default: throw DecodingError("unknown system answer kind \(kind)", offset: 1)
                }
                guard reader.isAtEnd else { throw DecodingError("trailing bytes after system answer", offset: reader.offset) }
                return .success(answer)
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }
}
