public import Base

/// The node-core call asking the system range leader for oracle revisions (tag 0x01 of the
/// core range 0x01-0x0F, see `NodeCallTransport`): what a node's `freshRevision` batch sends
/// when the system range leader is another node.
///
/// Request: `[0x01][u32 count]`. Answer: `[0x01][u8 status]` then, by status:
/// 0 served `i64 first, i64 last`; 1 notLeader `u64 leader hint`; 2 failed `u32 length, UTF-8
/// reason`. Little-endian. Owns nothing.
public enum OracleCall {
    public static let tag: UInt8 = 0x01

    public static func request(count: Int) -> [UInt8] {
        var w = BinaryWriter(capacity: 5)
        w.write(tag)
        w.write(UInt32(clamping: count))
        return w.bytes
    }

    /// The count asked for, nil when `bytes` is not an oracle request.
    public static func decodeRequest(_ bytes: [UInt8]) -> Int? {
        guard bytes.count == 5, bytes[0] == tag else { return nil }
        return bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw, offset: 1)
            return (try? r.read(UInt32.self)).map(Int.init)
        }
    }

    public static func answer(_ result: Result<ClosedRange<Int64>, ProposalError>) -> [UInt8] {
        var w = BinaryWriter(capacity: 18)
        w.write(tag)
        switch result {
        case .success(let r):
            w.write(UInt8(0))
            w.write(r.lowerBound)
            w.write(r.upperBound)
        case .failure(.notLeader(let hint)):
            w.write(UInt8(1))
            w.write(hint.rawValue)
        case .failure(let e):
            w.write(UInt8(2))
            w.writeLengthPrefixed(Array(e.description.utf8))
        }
        return w.bytes
    }

    /// Decodes an answer; a malformed one is `.proposalDropped`.
    public static func decodeAnswer(_ bytes: [UInt8]) -> Result<ClosedRange<Int64>, ProposalError> {
        let decoded: Result<ClosedRange<Int64>, ProposalError>? = bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            guard (try? r.read(UInt8.self)) == tag, let status = try? r.read(UInt8.self) else { return nil }
            switch status {
            case 0:
                guard let first = try? r.read(Int64.self), let last = try? r.read(Int64.self), first <= last,
                    r.isAtEnd
                else { return nil }
                return .success(first...last)
            case 1:
                guard let hint = try? r.read(UInt64.self), r.isAtEnd else { return nil }
                return .failure(.notLeader(leaderHint: NodeID(hint)))
            case 2:
                guard let text = try? r.readLengthPrefixed(), r.isAtEnd else { return nil }
                return .failure(.proposalDropped("oracle on the system leader: " + String(decoding: text, as: UTF8.self)))
            default:
                return nil
            }
        }
        return decoded ?? .failure(.proposalDropped("malformed oracle answer"))
    }
}

extension NodeHost {
    /// Answers an `OracleCall` request from a peer (for `handleCoreCall`, tag 0x01).
    public func handleOracleCall(_ request: [UInt8]) async -> [UInt8] {
        guard let count = OracleCall.decodeRequest(request) else {
            return OracleCall.answer(.failure(.proposalDropped("malformed oracle request")))
        }
        do {
            return OracleCall.answer(.success(try await oracleRevisions(count: count)))
        } catch {
            return OracleCall.answer(.failure(error))
        }
    }
}
