import CLZ4

/// Turns liblz4 frame-API return values (a size, or an error code encoded as a
/// negated `size_t`) into Swift values or thrown `LZ4Error.library` errors.
enum LibraryResult {
    /// Returns `result` as a byte count, or throws liblz4's error.
    @inline(__always) @discardableResult
    static func check(_ result: Int) throws(LZ4Error) -> Int {
        if LZ4F_isError(result) != 0 { throw error(for: result) }
        return result
    }

    /// The Swift error for a liblz4 result that `LZ4F_isError` flagged.
    static func error(for result: Int) -> LZ4Error {
        // lz4frame.c encodes error N as (size_t)-N; LZ4F_getErrorCode is not exported
        // from the shared library, so decode it here.
        let raw = 0 &- result
        let code = LZ4LibraryErrorCode(rawValue: raw) ?? .generic
        let name = LZ4F_getErrorName(result).map { String(cString: $0) } ?? "ERROR_unknown"
        return .library(code: code, name: name)
    }
}
