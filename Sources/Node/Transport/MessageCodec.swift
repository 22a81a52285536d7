public import Base
public import RaftCore

/// Binary codec of Raft messages for transports (the gRPC transport puts these bytes in its
/// frames). Pure functions; owns nothing. Layout of a batch: `[u8 version][u32 count]`
/// then per message `[u64 rangeID][u8 quiesce]` + the message.
public enum MessageCodec {
    static let version: UInt8 = 1

    public static func encode(batch: [RangeMessage]) -> [UInt8] {
        var w = BinaryWriter(capacity: 16 + batch.count * 64)
        w.write(version)
        w.write(UInt32(batch.count))
        for m in batch {
            w.write(m.rangeID.rawValue)
            w.write(UInt8(m.quiesce ? 1 : 0))
            write(m.message, into: &w)
        }
        return w.bytes
    }

    public static func decodeBatch(_ bytes: [UInt8]) throws(DecodingError) -> [RangeMessage] {
        let r: Result<[RangeMessage], DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try reader.read(UInt8.self)
                guard v == version else { throw DecodingError("unknown message batch version \(v)", offset: 0) }
                let count = Int(try reader.read(UInt32.self))
                guard count <= reader.remaining / 9 else { throw DecodingError("batch count \(count) too large", offset: 1) }
                var out: [RangeMessage] = []
                out.reserveCapacity(count)
                for _ in 0..<count {
                    let range = RangeID(try reader.read(UInt64.self))
                    let q = try reader.read(UInt8.self)
                    out.append(RangeMessage(rangeID: range, message: try readMessage(&reader), quiesce: q == 1))
                }
                return .success(out)
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }

    public static func encode(header: SnapshotHeader) -> [UInt8] {
        var w = BinaryWriter(capacity: 128)
        w.write(version)
        w.write(header.rangeID.rawValue)
        write(header.message, into: &w)
        return w.bytes
    }

    public static func decodeHeader(_ bytes: [UInt8]) throws(DecodingError) -> SnapshotHeader {
        let r: Result<SnapshotHeader, DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            do throws(DecodingError) {
                let v = try reader.read(UInt8.self)
                guard v == version else { throw DecodingError("unknown snapshot header version \(v)", offset: 0) }
                let range = RangeID(try reader.read(UInt64.self))
                return .success(SnapshotHeader(rangeID: range, message: try readMessage(&reader)))
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }

    // MARK: message

    static func write(_ m: Message, into w: inout BinaryWriter) {
        w.write(m.type.rawValue)
        w.write(m.to)
        w.write(m.from)
        w.write(m.term)
        w.write(m.logTerm)
        w.write(m.index)
        w.write(m.commit)
        w.write(UInt8(m.reject ? 1 : 0))
        w.write(m.rejectHint)
        w.writeLengthPrefixed(m.context)
        w.write(UInt32(m.entries.count))
        for e in m.entries {
            w.write(e.term)
            w.write(e.index)
            w.write(e.type.rawValue)
            w.writeLengthPrefixed(e.data)
        }
        if let s = m.snapshot {
            w.write(UInt8(1))
            w.write(s.metadata.index)
            w.write(s.metadata.term)
            writeIDs(s.metadata.confState.voters, &w)
            writeIDs(s.metadata.confState.learners, &w)
            writeIDs(s.metadata.confState.votersOutgoing, &w)
            writeIDs(s.metadata.confState.learnersNext, &w)
            w.write(UInt8(s.metadata.confState.autoLeave ? 1 : 0))
            w.writeLengthPrefixed(s.data)
        } else {
            w.write(UInt8(0))
        }
    }

    static func readMessage(_ r: inout BinaryReader) throws(DecodingError) -> Message {
        let rawType = try r.read(UInt8.self)
        guard let type = MessageType(rawValue: rawType) else {
            throw DecodingError("unknown message type \(rawType)", offset: r.offset - 1)
        }
        var m = Message(type: type)
        m.to = try r.read()
        m.from = try r.read()
        m.term = try r.read()
        m.logTerm = try r.read()
        m.index = try r.read()
        m.commit = try r.read()
        m.reject = try r.read(UInt8.self) == 1
        m.rejectHint = try r.read()
        m.context = try r.readLengthPrefixed()
        let count = Int(try r.read(UInt32.self))
        guard count <= r.remaining / 21 else { throw DecodingError("entry count \(count) too large", offset: r.offset - 4) }
        m.entries.reserveCapacity(count)
        for _ in 0..<count {
            let term = try r.read(UInt64.self)
            let index = try r.read(UInt64.self)
            let rawEntryType = try r.read(UInt8.self)
            guard let et = EntryType(rawValue: rawEntryType) else {
                throw DecodingError("unknown entry type \(rawEntryType)", offset: r.offset - 1)
            }
            m.entries.append(Entry(term: term, index: index, type: et, data: try r.readLengthPrefixed()))
        }
        if try r.read(UInt8.self) == 1 {
            var md = SnapshotMetadata(index: try r.read(), term: try r.read())
            md.confState.voters = try readIDs(&r)
            md.confState.learners = try readIDs(&r)
            md.confState.votersOutgoing = try readIDs(&r)
            md.confState.learnersNext = try readIDs(&r)
            md.confState.autoLeave = try r.read(UInt8.self) == 1
            m.snapshot = Snapshot(metadata: md, data: try r.readLengthPrefixed())
        }
        return m
    }

    static func writeIDs(_ ids: [ReplicaID], _ w: inout BinaryWriter) {
        w.write(UInt32(ids.count))
        for id in ids { w.write(id) }
    }

    static func readIDs(_ r: inout BinaryReader) throws(DecodingError) -> [ReplicaID] {
        let n = Int(try r.read(UInt32.self))
        guard n <= r.remaining / 8 else { throw DecodingError("id count \(n) too large", offset: r.offset - 4) }
        var ids: [ReplicaID] = []
        for _ in 0..<n { ids.append(try r.read()) }
        return ids
    }
}
