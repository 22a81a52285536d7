import Foundation

/// Test helper: builds byte strings from hex text and prints bytes as hex, so expected
/// encodings can be written out field by field.
enum WireBytes {
    /// Parses "0A 01 61" (spaces and `|` separators ignored) into bytes.
    static func hex(_ text: String) -> Data {
        let digits = text.filter { $0.isHexDigit }
        precondition(digits.count % 2 == 0, "odd number of hex digits in \(text)")
        var bytes = Data()
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Renders bytes as "0a 01 61" for failure messages.
    static func describe(_ data: Data) -> String {
        data.map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}
