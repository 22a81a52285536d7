/// A point in a range's history, as etcd's `Revision{Main, Sub}`: `main` is the revision of
/// the command (Put, DeleteRange or Txn) that made the change — in Flotilla it comes from the
/// cluster-wide revision oracle, so a range's main revisions increase but may have gaps — and
/// `sub` orders the changes made by one command (0, 1, 2, … within a txn).
public struct Revision: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var main: Int64
    public var sub: Int64

    public init(main: Int64, sub: Int64 = 0) {
        self.main = main
        self.sub = sub
    }

    public static let zero = Revision(main: 0, sub: 0)

    public static func < (a: Revision, b: Revision) -> Bool {
        a.main != b.main ? a.main < b.main : a.sub < b.sub
    }

    public var description: String { "\(main).\(sub)" }

    /// Number of bytes of the big-endian encoding (main then sub, 8 bytes each).
    static let encodedCount = 16

    /// Appends the order-preserving big-endian encoding (valid for non-negative revisions).
    func append(to out: inout [UInt8]) {
        appendBigEndian(UInt64(bitPattern: main), to: &out)
        appendBigEndian(UInt64(bitPattern: sub), to: &out)
    }

    var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        append(to: &out)
        return out
    }

    /// Decodes 16 big-endian bytes starting at `offset`.
    init(decoding raw: UnsafeRawBufferPointer, at offset: Int) {
        main = Int64(bitPattern: readBigEndian(raw, at: offset))
        sub = Int64(bitPattern: readBigEndian(raw, at: offset + 8))
    }
}

@inline(__always)
func appendBigEndian(_ value: UInt64, to out: inout [UInt8]) {
    var v = value.bigEndian
    withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
}

@inline(__always)
func readBigEndian(_ raw: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
    UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}
