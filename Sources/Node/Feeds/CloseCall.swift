public import Base

/// The node-core call (tag 0x08) by which a node serving a feed from a follower replica
/// asks the range's leader to close the range at a revision (`closeForFollower`), and its
/// answer. Owns only the byte layout (little-endian):
/// request `[u8 0x08][u64 range][i64 revision]`; answer `[u8 0x08][u8 status][u64 value]`
/// + for status 3 a u32-length-prefixed message. Status 0: value = the leader's index;
/// 1: not leader, value = hint node; 2: range not found; 3: any other failure.
enum CloseCall {
    static let tag: UInt8 = 0x08

    static func encodeRequest(range: RangeID, revision: Int64) -> [UInt8] {
        var w = BinaryWriter(capacity: 17)
        w.write(tag)
        w.write(range.rawValue)
        w.write(revision)
        return w.bytes
    }

    static func decodeRequest(_ bytes: [UInt8]) -> (RangeID, Int64)? {
        bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            guard (try? r.read(UInt8.self)) == tag, let range = try? r.read(UInt64.self),
                  let revision = try? r.read(Int64.self) else { return nil }
            return (RangeID(range), revision)
        }
    }

    static func encodeAnswer(_ result: Result<UInt64, ProposalError>) -> [UInt8] {
        var w = BinaryWriter(capacity: 18)
        w.write(tag)
        switch result {
        case .success(let index):
            w.write(UInt8(0))
            w.write(index)
        case .failure(.notLeader(let hint)):
            w.write(UInt8(1))
            w.write(hint.rawValue)
        case .failure(.rangeNotFound(let range)):
            w.write(UInt8(2))
            w.write(range.rawValue)
        case .failure(let e):
            w.write(UInt8(3))
            w.write(UInt64(0))
            w.writeLengthPrefixed(Array(e.description.utf8))
        }
        return w.bytes
    }

    static func decodeAnswer(_ bytes: [UInt8]) -> Result<UInt64, ProposalError> {
        bytes.withUnsafeBytes { raw in decodeAnswer(raw) }
    }

    static func decodeAnswer(_ raw: UnsafeRawBufferPointer) -> Result<UInt64, ProposalError> {
        var r = BinaryReader(raw)
        guard (try? r.read(UInt8.self)) == tag, let status = try? r.read(UInt8.self),
              let value = try? r.read(UInt64.self) else { return .failure(.proposalDropped("malformed close answer")) }
        switch status {
        case 0: return .success(value)
        case 1: return .failure(.notLeader(leaderHint: NodeID(value)))
        case 2: return .failure(.rangeNotFound(RangeID(value)))
        default:
            let message = (try? r.readLengthPrefixed()).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            return .failure(.proposalDropped("close on the leader failed: \(message)"))
        }
    }
}

extension NodeHost {
    /// A `RemoteCloser` over node calls: asks the leader's `handleCoreCall` to close the
    /// range. Wire it with `setRemoteCloser(NodeHost.remoteCloser(over: calls))`.
    public static func remoteCloser(over calls: any NodeCallTransport, timeoutMs: Int = 2_000) -> RemoteCloser {
        { leader, range, revision throws(ProposalError) in
            let answer: [UInt8]
            do {
                answer = try await calls.call(leader, CloseCall.encodeRequest(range: range, revision: revision),
                                              timeoutMs: timeoutMs)
            } catch {
                throw .proposalDropped("close call to \(leader): \(error)")
            }
            return try CloseCall.decodeAnswer(answer).get()
        }
    }
}
