import Base
import Node
import PeerTransport
import Placement
import WAL

/// Renders node and transport counters in the Prometheus text exposition format. Pure;
/// owns nothing.
enum PrometheusText {
    static func render(node: NodeMetrics, transport: PeerTransportStats, nodeID: NodeID,
                       placement: PlacementPlanner.Stats = .init()) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        func one(_ name: String, _ type: String, _ help: String, _ value: some Numeric & CustomStringConvertible) {
            metric(name, type, help, [("", value.description)])
        }
        out += histogram("flotilla_wal_fsync_duration_seconds", "WAL fdatasync duration, every fsync.",
                         node.fsyncDuration, divisor: 1e9)
        out += histogram("flotilla_wal_fsync_entries", "Log entries written by each WAL fdatasync (entries per fsync).",
                         node.entriesPerFsyncHistogram, divisor: 1)
        one("flotilla_wal_fsyncs_total", "counter", "WAL appends, each one fdatasync.", node.fsyncs)
        one("flotilla_wal_entries_synced_total", "counter", "Log entries written by WAL appends.", node.entriesSynced)
        one("flotilla_wal_entries_per_fsync", "gauge", "Mean log entries per fdatasync since start.", node.entriesPerFsync)
        one("flotilla_wal_disk_bytes", "gauge", "Bytes of live WAL segments.", node.walDiskBytes)
        one("flotilla_wal_segments_deleted_total", "counter", "WAL segments garbage-collected.", node.walSegmentsDeleted)
        one("flotilla_proposals_total", "counter", "Proposals received.", node.proposals)
        one("flotilla_proposals_failed_total", "counter", "Proposals that failed.", node.proposalsFailed)
        one("flotilla_applied_commands_total", "counter", "Commands applied to MVCC.", node.appliedCommands)
        one("flotilla_applied_before_sync_total", "counter",
            "Entries applied from a held Ready before its WAL sync (durable before it).", node.appliedBeforeSync)
        metric("flotilla_put_stage_seconds_total", "counter",
               "Time of the writes this node led, by stage (revision wait, wait for the range's sync, own WAL sync, commit to apply).",
               zip(["revision", "ready", "sync", "commit"], node.putStageNanos).map { ("{stage=\"\($0)\"}", "\(Double($1) / 1e9)") })
        one("flotilla_put_stage_writes_total", "counter", "Writes counted in flotilla_put_stage_seconds_total.", node.putStageWrites)
        one("flotilla_poll_rounds_total", "counter", "Poll rounds of the node loop.", node.pollRounds)
        one("flotilla_read_index_requests_total", "counter",
            "Raft ReadIndex requests issued (one per led range per poll round with reads).", node.readIndexRequests)
        one("flotilla_loop_oracle_rounds_total", "counter",
            "Oracle confirmations run by the poll loop itself (system range led here).", node.loopOracleRounds)
        one("flotilla_oracle_lease_serves_total", "counter",
            "Oracle and lease-table call batches served under the oracle lease, without a confirmation round.", node.oracleLeaseServes)
        one("flotilla_wal_unsynced_hard_states_total", "counter",
            "Commit-only hard states written without a sync of their own.", node.unsyncedHardStates)
        one("flotilla_wal_batches_handed_off_total", "counter",
            "Record batches the poll loop handed to the WAL sync thread (compare flotilla_wal_fsyncs_total).", node.walBatchesHandedOff)
        one("flotilla_align_held_readies_total", "counter",
            "Leader Readies held back a round for another WAL batch's sync (FLOTILLA_ALIGN_LEADERS=1).", node.alignHeldReadies)
        one("flotilla_wal_appends_gated_total", "counter",
            "WAL appends that waited, after a durable report, for the poll round that took it.", node.walAppendsGated)
        one("flotilla_mvcc_commits_total", "counter", "Batched data.db commits.", node.mvccCommits)
        one("flotilla_ranges", "gauge", "Range replicas on this node.", node.rangeCount)
        one("flotilla_leader_ranges", "gauge", "Ranges this node leads.", node.leaderCount)
        one("flotilla_quiesced_ranges", "gauge", "Quiesced range replicas.", node.quiescedCount)
        one("flotilla_placement_transfers_total", "counter",
            "Leader transfers this node's placement driver ordered.", placement.transfersOrdered)
        one("flotilla_placement_pins_total", "counter",
            "Ranges placement pinned after a leader move it would not have made (an operator's).", placement.holds)
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

extension PrometheusText {
    /// One histogram in the exposition format: cumulative `_bucket{le=…}` lines (bounds
    /// divided by `divisor`, e.g. 1e9 for nanoseconds to seconds), `+Inf`, `_sum` and `_count`.
    static func histogram(_ name: String, _ help: String, _ h: WALHistogram, divisor: Double) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (bound, count) in h.cumulative {
            let le = bound.map { "\(Double($0) / divisor)" } ?? "+Inf"
            out += "\(name)_bucket{le=\"\(le)\"} \(count)\n"
        }
        out += "\(name)_sum \(Double(h.sum) / divisor)\n"
        out += "\(name)_count \(h.count)\n"
        return out
    }
}
