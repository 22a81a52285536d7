/// Little-endian binary encoding helpers shared by the on-disk formats (WAL records,
/// snapshots) and internal wire formats. Readers are bounds-checked and throw instead of
/// trapping, because their input may be a torn or corrupted file.

/// Appends little-endian fixed-width integers and byte strings to a growable buffer.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    /// Empties the buffer but keeps its capacity (for reuse across batches).
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    @inline(__always) public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(bytes other: some Collection<UInt8>) { bytes.append(contentsOf: other) }

    /// A `UInt32` length followed by the bytes.
    public mutating func writeLengthPrefixed(_ other: [UInt8]) {
        write(UInt32(other.count))
        bytes.append(contentsOf: other)
    }

    /// Appends zero bytes until the count is a multiple of `alignment`.
    public mutating func pad(toMultipleOf alignment: Int) {
        let rem = bytes.count % alignment
        if rem != 0 { bytes.append(contentsOf: repeatElement(0, count: alignment - rem)) }
    }

    /// Overwrites a little-endian integer at `offset` (for lengths known after the fact).
    public mutating func overwrite<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<raw.count { bytes[offset + i] = raw[i] }
        }
    }
}

/// Thrown by `BinaryReader` when the input ends early or holds an impossible value.
public struct DecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }
    public var description: String { "\(message) at byte \(offset)" }
}

/// Reads little-endian values from a borrowed buffer. The buffer must outlive the reader.
public struct BinaryReader {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.offset = offset
    }

    public var remaining: Int { buffer.count - offset }
    public var isAtEnd: Bool { offset >= buffer.count }

    @inline(__always) public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(DecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw DecodingError("truncated \(T.self)", offset: offset) }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    public mutating func readBytes(_ count: Int) throws(DecodingError) -> [UInt8] {
        guard count >= 0, remaining >= count else {
            throw DecodingError("truncated byte string of \(count)", offset: offset)
        }
        let out = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + count)]))
        offset += count
        return out
    }

    public mutating func readLengthPrefixed(maxCount: Int = Int(Int32.max)) throws(DecodingError) -> [UInt8] {
        let n = Int(try read(UInt32.self))
        guard n <= maxCount else { throw DecodingError("length \(n) over limit \(maxCount)", offset: offset) }
        return try readBytes(n)
    }

    public mutating func skip(_ count: Int) throws(DecodingError) {
        guard count >= 0, remaining >= count else { throw DecodingError("cannot skip \(count)", offset: offset) }
        offset += count
    }
}
