import Base
import Node
import PeerTransport

/// Renders node and transport counters in the Prometheus text exposition format. Pure;
/// owns nothing.
enum PrometheusText {
    static func render(node: NodeMetrics, transport: PeerTransportStats, fsync: FsyncHistogram,
                       nodeID: NodeID) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        func one(_ name: String, _ type: String, _ help: String, _ value: some Numeric & CustomStringConvertible) {
            metric(name, type, help, [("", value.description)])
        }
        // fsync duration histogram (seconds).
        out += "# HELP flotilla_wal_fsync_duration_seconds WAL fdatasync duration (per sampling interval, each fsync counted at the interval's mean).\n"
        out += "# TYPE flotilla_wal_fsync_duration_seconds histogram\n"
        var cumulative: UInt64 = 0
        for (i, bound) in FsyncHistogram.boundsSeconds.enumerated() {
            cumulative += fsync.buckets[i]
            out += "flotilla_wal_fsync_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "flotilla_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} \(fsync.count)\n"
        out += "flotilla_wal_fsync_duration_seconds_sum \(Double(node.fsyncNanosTotal) / 1e9)\n"
        out += "flotilla_wal_fsync_duration_seconds_count \(node.fsyncs)\n"
        one("flotilla_wal_fsyncs_total", "counter", "WAL appends, each one fdatasync.", node.fsyncs)
        one("flotilla_wal_entries_synced_total", "counter", "Log entries written by WAL appends.", node.entriesSynced)
        one("flotilla_wal_entries_per_fsync", "gauge", "Mean log entries per fdatasync since start.", node.entriesPerFsync)
        one("flotilla_wal_disk_bytes", "gauge", "Bytes of live WAL segments.", node.walDiskBytes)
        one("flotilla_wal_segments_deleted_total", "counter", "WAL segments garbage-collected.", node.walSegmentsDeleted)
        one("flotilla_proposals_total", "counter", "Proposals received.", node.proposals)
        one("flotilla_proposals_failed_total", "counter", "Proposals that failed.", node.proposalsFailed)
        one("flotilla_applied_commands_total", "counter", "Commands applied to MVCC.", node.appliedCommands)
        one("flotilla_poll_rounds_total", "counter", "Poll rounds of the node loop.", node.pollRounds)
        one("flotilla_mvcc_commits_total", "counter", "Batched data.db commits.", node.mvccCommits)
        one("flotilla_ranges", "gauge", "Range replicas on this node.", node.rangeCount)
        one("flotilla_leader_ranges", "gauge", "Ranges this node leads.", node.leaderCount)
        one("flotilla_quiesced_ranges", "gauge", "Quiesced range replicas.", node.quiescedCount)
        metric("flotilla_range_applied_index", "gauge", "Applied index of each range replica.",
               node.appliedIndex.sorted { $0.key < $1.key }.map { ("{range=\"\($0.key.rawValue)\"}", "\($0.value)") })
        one("flotilla_snapshots_sent_total", "counter", "Snapshots sent.", node.snapshotsSent)
        one("flotilla_snapshots_received_total", "counter", "Snapshots installed.", node.snapshotsReceived)
        one("flotilla_snapshot_bytes_sent_total", "counter", "Compressed snapshot bytes sent.", transport.snapshotBytesSent)
        one("flotilla_snapshot_bytes_received_total", "counter", "Compressed snapshot bytes received.", transport.snapshotBytesReceived)
        one("flotilla_peer_stream_reconnects_total", "counter", "Raft streams re-established to a peer.", transport.streamReconnects)
        one("flotilla_peer_stream_failures_total", "counter", "Failed peer connection attempts or broken streams.", transport.streamFailures)
        one("flotilla_peer_connected", "gauge", "Peers whose Raft stream is up.", transport.connectedPeers)
        one("flotilla_peer_batches_sent_total", "counter", "Raft batches sent to peers.", transport.batchesSent)
        one("flotilla_peer_batches_received_total", "counter", "Raft batches received from peers.", transport.batchesReceived)
        one("flotilla_peer_batches_dropped_total", "counter", "Raft batches dropped from full send queues.", transport.batchesDropped)
        one("flotilla_peer_bytes_sent_total", "counter", "Raft stream bytes sent.", transport.bytesSent)
        one("flotilla_peer_bytes_received_total", "counter", "Raft stream bytes received.", transport.bytesReceived)
        one("flotilla_node_calls_sent_total", "counter", "Node calls sent to peers (forwarded requests, oracle, leases, feeds).", transport.callsSent)
        one("flotilla_node_call_messages_sent_total", "counter", "gRPC messages carrying node calls (calls are coalesced per write).", transport.callMessagesSent)
        one("flotilla_node_calls_failed_total", "counter", "Node calls that ended unanswered (unreachable, timeout, closed).", transport.callsFailed)
        one("flotilla_node_calls_answered_total", "counter", "Node calls answered for peers.", transport.callsAnswered)
        one("flotilla_node_call_stream_reconnects_total", "counter", "Node call streams re-established to a peer.", transport.callStreamReconnects)
        out += "# HELP flotilla_node_info This node.\n# TYPE flotilla_node_info gauge\nflotilla_node_info{node=\"\(nodeID.rawValue)\"} 1\n"
        return out
    }
}

/// fsync durations bucketed from periodic samples of the WAL counters (NodeMetrics has
/// totals, not per-fsync durations): each interval's fsyncs are counted at the interval's
/// mean duration. Plain value, updated by the server's sampler.
struct FsyncHistogram: Sendable {
    static let boundsSeconds: [Double] = [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024]
    var buckets = [UInt64](repeating: 0, count: boundsSeconds.count)
    var count: UInt64 = 0
    var lastFsyncs: UInt64 = 0
    var lastNanos: UInt64 = 0

    mutating func sample(fsyncs: UInt64, nanosTotal: UInt64) {
        defer { lastFsyncs = fsyncs; lastNanos = nanosTotal }
        guard fsyncs > lastFsyncs else { return }
        let n = fsyncs - lastFsyncs
        let mean = Double(nanosTotal &- lastNanos) / Double(n) / 1e9
        count += n
        if let i = Self.boundsSeconds.firstIndex(where: { mean <= $0 }) { buckets[i] += n }
    }
}
