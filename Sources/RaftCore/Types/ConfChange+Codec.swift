/// The binary form of a `ConfChange` carried in a `.confChange` entry's data:
/// `[transition u8][count u32 LE]{[type u8][replicaID u64 LE]}*[context...]`.
/// The core writes it on `proposeConfChange`; the application decodes committed
/// `.confChange` entries with `ConfChange(decoding:)` and hands them to `applyConfChange`.
extension ConfChange {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(5 + changes.count * 9 + context.count)
        out.append(transition.rawValue)
        appendLE(UInt64(changes.count), bytes: 4, to: &out)
        for c in changes {
            out.append(c.type.rawValue)
            appendLE(c.replicaID, bytes: 8, to: &out)
        }
        out.append(contentsOf: context)
        return out
    }

    public init(decoding data: [UInt8]) throws(RaftError) {
        guard data.count >= 5, let transition = ConfChangeTransition(rawValue: data[0]) else {
            throw .invalidConfChange("malformed conf change encoding")
        }
        let count = Int(readLE(data, at: 1, bytes: 4))
        guard data.count >= 5 + count * 9 else { throw .invalidConfChange("truncated conf change encoding") }
        var changes: [ConfChangeSingle] = []
        changes.reserveCapacity(count)
        for i in 0..<count {
            let at = 5 + i * 9
            guard let type = ConfChangeType(rawValue: data[at]) else {
                throw .invalidConfChange("unknown conf change type \(data[at])")
            }
            changes.append(ConfChangeSingle(type, readLE(data, at: at + 1, bytes: 8)))
        }
        self.init(transition: transition, changes: changes, context: Array(data[(5 + count * 9)...]))
    }
}

private func appendLE(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
    for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
}

private func readLE(_ data: [UInt8], at: Int, bytes: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<bytes { v |= UInt64(data[at + i]) << (8 * UInt64(i)) }
    return v
}
