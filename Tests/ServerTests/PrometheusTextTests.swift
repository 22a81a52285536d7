import Base
import Node
import PeerTransport
import Placement
@testable import Server
import Testing
import WAL

/// `/metrics` renders the WAL's per-fsync histograms as real Prometheus histograms:
/// cumulative buckets in seconds, `+Inf` equal to `_count`, `_sum` in seconds.
@Suite struct PrometheusTextTests {
    @Test func fsyncHistogramIsCumulativeWithLeSemantics() {
        var node = NodeMetrics()
        // 100 µs (on the first bound), 150 µs, 250 ms, 10 s (above every bound).
        for nanos: UInt64 in [100_000, 150_000, 250_000_000, 10_000_000_000] { node.fsyncDuration.observe(nanos) }
        let text = PrometheusText.render(node: node, transport: PeerTransportStats(), nodeID: NodeID(1))
        let lines = text.split(separator: "\n").map(String.init)
        func sample(_ name: String) -> String? {
            lines.first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
        }
        #expect(lines.contains("# TYPE flotilla_wal_fsync_duration_seconds histogram"))
        #expect(sample("flotilla_wal_fsync_duration_seconds_bucket{le=\"0.0001\"}") == "1")
        #expect(sample("flotilla_wal_fsync_duration_seconds_bucket{le=\"0.0002\"}") == "2")
        #expect(sample("flotilla_wal_fsync_duration_seconds_bucket{le=\"0.2048\"}") == "2")
        #expect(sample("flotilla_wal_fsync_duration_seconds_bucket{le=\"0.4096\"}") == "3")
        #expect(sample("flotilla_wal_fsync_duration_seconds_bucket{le=\"+Inf\"}") == "4")
        #expect(sample("flotilla_wal_fsync_duration_seconds_count") == "4")
        #expect(sample("flotilla_wal_fsync_duration_seconds_sum").flatMap(Double.init).map { abs($0 - 10.2502500) < 1e-9 } == true)
        // Buckets never decrease.
        let counts = lines.filter { $0.hasPrefix("flotilla_wal_fsync_duration_seconds_bucket") }
            .compactMap { $0.split(separator: " ").last.flatMap { UInt64($0) } }
        #expect(counts.count == WALHistogram.fsyncNanosBounds.count + 1)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(lines.contains("# TYPE flotilla_wal_fsync_entries histogram"))
    }

    @Test func readIndexRequestsAreExported() {
        var node = NodeMetrics()
        node.readIndexRequests = 7
        let lines = PrometheusText.render(node: node, transport: PeerTransportStats(), nodeID: NodeID(1))
            .split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE flotilla_read_index_requests_total counter"))
        #expect(lines.contains { $0.hasPrefix("flotilla_read_index_requests_total") && $0.hasSuffix(" 7") })
    }

    @Test func placementCountersAreExported() {
        var stats = PlacementPlanner.Stats()
        stats.transfersOrdered = 5
        stats.holds = 2
        let lines = PrometheusText.render(node: NodeMetrics(), transport: PeerTransportStats(), nodeID: NodeID(1), placement: stats)
            .split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE flotilla_placement_transfers_total counter"))
        #expect(lines.contains("flotilla_placement_transfers_total 5"))
        #expect(lines.contains("flotilla_placement_pins_total 2"))
    }
}
