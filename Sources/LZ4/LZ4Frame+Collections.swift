/// Conveniences that accept any byte collection (`[UInt8]`, `ArraySlice<UInt8>`, …)
/// or append output to an array, layered over the buffer-pointer streaming API.
extension LZ4FrameCompressor {
    /// `update` for a byte collection.
    public func update(_ input: some Collection<UInt8>, _ sink: Sink) throws {
        try withContiguousBytes(input) { try update($0, sink) }
    }

    /// `begin` that appends the header to `output`.
    public func begin(appendingTo output: inout [UInt8]) throws {
        try begin { output.append(contentsOf: $0) }
    }

    /// `update` that appends the compressed bytes to `output`.
    public func update(_ input: some Collection<UInt8>, appendingTo output: inout [UInt8]) throws {
        try update(input) { output.append(contentsOf: $0) }
    }

    /// `end` that appends the final bytes to `output`.
    public func end(appendingTo output: inout [UInt8]) throws {
        try end { output.append(contentsOf: $0) }
    }
}

extension LZ4FrameDecompressor {
    /// `decompress` for a byte collection.
    public func decompress(_ input: some Collection<UInt8>, _ sink: Sink) throws {
        try withContiguousBytes(input) { try decompress($0, sink) }
    }

    /// `decompress` that appends the decoded bytes to `output`.
    public func decompress(_ input: some Collection<UInt8>, appendingTo output: inout [UInt8]) throws {
        try decompress(input) { output.append(contentsOf: $0) }
    }
}
