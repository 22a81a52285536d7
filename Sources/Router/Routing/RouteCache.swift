public import Base
public import Node

/// The router's view of the user ranges: descriptors sorted by start key with leader
/// hints. A plain value (the `Router` keeps it in a `Mutex`); knows nothing about how
/// routes are fetched. Newer epochs replace older descriptors of the same span.
public struct RouteCache: Sendable {
    /// Sorted by start key, non-overlapping.
    public private(set) var routes: [RangeRoute] = []

    public init(_ routes: [RangeRoute] = []) { replaceAll(routes) }

    /// Installs a fresh routing table (the newest epoch per range wins, then overlaps are
    /// resolved in favour of the newer descriptor).
    public mutating func replaceAll(_ fresh: [RangeRoute]) {
        routes = []
        for r in fresh.sorted(by: { $0.descriptor.epoch > $1.descriptor.epoch }) { install(r) }
    }

    /// Adds `route`, dropping cached routes it overlaps that have an older (or equal)
    /// epoch; ignored when an overlapping cached route is newer.
    public mutating func install(_ route: RangeRoute) {
        let span = KeySpan(route.descriptor)
        let clashing = routes.filter { KeySpan($0.descriptor).overlaps(span) }
        if clashing.contains(where: {
            $0.descriptor.rangeID == route.descriptor.rangeID && $0.descriptor.epoch > route.descriptor.epoch
        }) { return }
        if clashing.contains(where: { $0.descriptor.rangeID != route.descriptor.rangeID && $0.descriptor.epoch > route.descriptor.epoch }) {
            // A different, newer range owns part of the span: keep it, the fresh table will tell.
            return
        }
        routes.removeAll { KeySpan($0.descriptor).overlaps(span) }
        let i = routes.firstIndex { route.descriptor.startKey.lexicographicallyPrecedes($0.descriptor.startKey) } ?? routes.count
        routes.insert(route, at: i)
    }

    /// Records that `node` is believed to lead `range`.
    public mutating func setLeader(_ node: NodeID, of range: RangeID) {
        if let i = routes.firstIndex(where: { $0.descriptor.rangeID == range }) { routes[i].leaderHint = node }
    }

    /// The cached route of `range`.
    public func route(of range: RangeID) -> RangeRoute? { routes.first { $0.descriptor.rangeID == range } }

    /// The routes overlapping `span`, in key order, each with the part of `span` it holds;
    /// nil when the cache does not cover the whole span. An empty span maps to the route
    /// holding its start key.
    public func plan(_ span: KeySpan) -> [(route: RangeRoute, span: KeySpan)]? {
        if span.isEmpty {
            guard let r = routes.first(where: { KeySpan($0.descriptor).contains(span.start) }) else { return nil }
            return [(r, span)]
        }
        var parts: [(route: RangeRoute, span: KeySpan)] = []
        var covered = span.start
        for r in routes {
            let part = span.clipped(to: KeySpan(r.descriptor))
            guard !part.isEmpty else { continue }
            if part.start != covered { return nil }  // a gap before this range
            parts.append((r, part))
            guard let e = part.end else { return parts }
            covered = e
        }
        if let end = span.end, !covered.lexicographicallyPrecedes(end) { return parts }
        return nil
    }
}
