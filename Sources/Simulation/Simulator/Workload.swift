/// Client proposals: every payload starts with a unique 8-byte proposal ID (little
/// endian) followed by filler, so the simulator can tell which proposal an applied entry
/// carries. Owns only the encoding.
public enum Workload {
    /// A payload for proposal `id` with `fillerBytes` bytes after the ID.
    public static func payload(id: UInt64, fillerBytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + fillerBytes)
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: id >> UInt64(shift))) }
        for k in 0..<fillerBytes { out.append(UInt8(truncatingIfNeeded: id &+ UInt64(k))) }
        return out
    }

    /// The proposal ID a payload carries (nil for the empty no-op entries of new leaders).
    public static func proposalID(_ data: [UInt8]) -> UInt64? {
        guard data.count >= 8 else { return nil }
        var id: UInt64 = 0
        for k in 0..<8 { id |= UInt64(data[k]) << UInt64(8 * k) }
        return id
    }
}
