public import Base

/// A half-open span of user keys `[start, end)`, `end == nil` meaning the end of the
/// keyspace: the router's one shape for etcd's key / range_end conventions and for range
/// bounds. Owns nothing; pure value arithmetic (clip, overlap, back to etcd's form).
public struct KeySpan: Sendable, Hashable, CustomStringConvertible {
    public var start: [UInt8]
    public var end: [UInt8]?

    public init(start: [UInt8], end: [UInt8]?) {
        self.start = start
        self.end = end
    }

    /// etcd's interval of `key` / `rangeEnd`: empty `rangeEnd` is `key` alone, `[0]` every
    /// key `>= key`, otherwise `[key, rangeEnd)` (empty when `rangeEnd <= key`).
    public init(key: [UInt8], rangeEnd: [UInt8]) {
        if rangeEnd.isEmpty {
            self.init(start: key, end: key + [0])
        } else if rangeEnd == [0] {
            self.init(start: key, end: nil)
        } else {
            self.init(start: key, end: rangeEnd)
        }
    }

    /// The whole user keyspace.
    public static let all = KeySpan(start: [], end: nil)

    /// The span of one key.
    public static func point(_ key: [UInt8]) -> KeySpan { KeySpan(start: key, end: key + [0]) }

    /// The span of a range descriptor.
    public init(_ d: RangeDescriptor) { self.init(start: d.startKey, end: d.endKey) }

    public var isEmpty: Bool {
        guard let end else { return false }
        return !start.lexicographicallyPrecedes(end)
    }

    /// The part of this span inside `other` (possibly empty).
    public func clipped(to other: KeySpan) -> KeySpan {
        let s = start.lexicographicallyPrecedes(other.start) ? other.start : start
        let e: [UInt8]?
        switch (end, other.end) {
        case (nil, let b): e = b
        case (let a, nil): e = a
        case (let a?, let b?): e = a.lexicographicallyPrecedes(b) ? a : b
        }
        return KeySpan(start: s, end: e)
    }

    /// Whether the two spans share a key.
    public func overlaps(_ other: KeySpan) -> Bool { !clipped(to: other).isEmpty }

    /// Whether `key` lies in the span.
    public func contains(_ key: [UInt8]) -> Bool {
        guard !key.lexicographicallyPrecedes(start) else { return false }
        guard let end else { return true }
        return key.lexicographicallyPrecedes(end)
    }

    /// Whether every key of `other` lies in this span.
    public func covers(_ other: KeySpan) -> Bool {
        guard !other.start.lexicographicallyPrecedes(start) else { return false }
        guard let end else { return true }
        guard let oend = other.end else { return false }
        return !end.lexicographicallyPrecedes(oend)
    }

    /// etcd's `key` / `range_end` for a non-empty span (`end == nil` → `[0]`).
    public var etcdRangeEnd: [UInt8] { end ?? [0] }

    public var description: String { "[\(start), \(end.map { "\($0)" } ?? "∞"))" }
}
