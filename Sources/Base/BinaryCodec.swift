/// Little-endian binary encoding helpers shared by the on-disk formats (WAL records,
/// snapshots) and internal wire formats. Readers are bounds-checked and throw instead of
/// trapping, because their input may be a torn or corrupted file.

/// Appends little-endian fixed-width integers and byte strings to a growable buffer.
public struct BinaryWriter: Sendable {
    // Inlinable (with its storage usable from inlined code) so the generic `write` is
    // specialized in the calling module: a plain public generic is called unspecialized
    // across modules, instantiating generic metadata on every call.
    @usableFromInline var storage: [UInt8]

    /// The bytes written so far.
    @inlinable public var bytes: [UInt8] { storage }

    @inlinable public init(capacity: Int = 0) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { storage.count }

    /// Empties the buffer but keeps its capacity (for reuse across batches).
    @inlinable public mutating func removeAll() { storage.removeAll(keepingCapacity: true) }

    @inlinable @inline(__always) public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { storage.append(contentsOf: $0) }
    }

    @inlinable public mutating func write(bytes other: some Collection<UInt8>) { storage.append(contentsOf: other) }

    /// A `UInt32` length followed by the bytes.
    @inlinable public mutating func writeLengthPrefixed(_ other: [UInt8]) {
        write(UInt32(other.count))
        storage.append(contentsOf: other)
    }

    /// Appends zero bytes until the count is a multiple of `alignment`.
    public mutating func pad(toMultipleOf alignment: Int) {
        let rem = storage.count % alignment
        if rem != 0 { storage.append(contentsOf: repeatElement(0, count: alignment - rem)) }
    }

    /// Overwrites a little-endian integer at `offset` (for lengths known after the fact).
    @inlinable public mutating func overwrite<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<raw.count { storage[offset + i] = raw[i] }
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
/// Inlinable like `BinaryWriter`, so decoders in other modules read integers without a
/// generic call.
public struct BinaryReader {
    public let buffer: UnsafeRawBufferPointer
    @usableFromInline var position: Int

    @inlinable public init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.position = offset
    }

    /// Where the next read starts.
    @inlinable public var offset: Int { position }
    @inlinable public var remaining: Int { buffer.count - position }
    @inlinable public var isAtEnd: Bool { position >= buffer.count }

    @inlinable @inline(__always) public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(DecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw DecodingError("truncated \(T.self)", offset: position) }
        let value = buffer.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    @inlinable public mutating func readBytes(_ count: Int) throws(DecodingError) -> [UInt8] {
        guard count >= 0, remaining >= count else {
            throw DecodingError("truncated byte string of \(count)", offset: position)
        }
        let out = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[position..<(position + count)]))
        position += count
        return out
    }

    @inlinable public mutating func readLengthPrefixed(maxCount: Int = Int(Int32.max)) throws(DecodingError) -> [UInt8] {
        let n = Int(try read(UInt32.self))
        guard n <= maxCount else { throw DecodingError("length \(n) over limit \(maxCount)", offset: position) }
        return try readBytes(n)
    }

    @inlinable public mutating func skip(_ count: Int) throws(DecodingError) {
        guard count >= 0, remaining >= count else { throw DecodingError("cannot skip \(count)", offset: position) }
        position += count
    }
}
