import Foundation
import Proto
import SwiftProtobuf
import Testing

/// The flotilla.peer protocol: field numbers pinned by hand-derived bytes (changing one
/// would break mixed-version clusters), enum numbering pinned to RaftCore's.
@Suite struct PeerWireTests {
    @Test func raftMessageBatchWithOneAppend() throws {
        var entry = Flotilla_Peer_Entry()
        entry.term = 5
        entry.index = 11
        entry.data = Data("x".utf8)
        var message = Flotilla_Peer_RaftMessage()
        message.type = .append
        message.to = 2
        message.from = 1
        message.term = 5
        message.logTerm = 4
        message.index = 10
        message.entries = [entry]
        message.commit = 9
        var envelope = Flotilla_Peer_RaftEnvelope()
        envelope.rangeID = 7
        envelope.message = message
        var batch = Flotilla_Peer_RaftMessageBatch()
        batch.fromNode = 1
        batch.toNode = 2
        batch.envelopes = [envelope]
        batch.sequence = 1

        // Entry{term(1)=5, index(2)=11, data(4) "x"}; type NORMAL is the default
        let entryBytes = "08 05 10 0B 22 01 78"
        // RaftMessage{type(1)=APPEND 3, to(2), from(3), term(4), log_term(5), index(6),
        //   entries(7), commit(8)}: 23 bytes
        let messageBytes = "08 03 10 02 18 01 20 05 28 04 30 0A | 3A 07 \(entryBytes) | 40 09"
        // RaftEnvelope{range_id(1)=7, message(2)}: 27 bytes
        let envelopeBytes = "08 07 | 12 17 \(messageBytes)"
        // Batch{from_node(1), to_node(2), envelopes(3), sequence(4)}
        let expected = WireBytes.hex("08 01 | 10 02 | 1A 1B \(envelopeBytes) | 20 01")
        let encoded: Data = try batch.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Flotilla_Peer_RaftMessageBatch(serializedBytes: expected) == batch)
    }

    @Test func snapshotMessageRoundTripsWithJointConfState() throws {
        var confState = Flotilla_Peer_ConfState()
        confState.voters = [1, 2, 3]
        confState.learners = [4]
        confState.votersOutgoing = [1, 2, 5]
        confState.learnersNext = [5]
        confState.autoLeave = true
        var snapshot = Flotilla_Peer_Snapshot()
        snapshot.metadata.confState = confState
        snapshot.metadata.index = 100
        snapshot.metadata.term = 3
        snapshot.data = Data([0xFF, 0x00])
        var message = Flotilla_Peer_RaftMessage()
        message.type = .snapshot
        message.snapshot = snapshot
        message.reject = true
        message.rejectHint = 42
        message.context = Data("ctx".utf8)

        let encoded: Data = try message.serializedBytes()
        let decoded = try Flotilla_Peer_RaftMessage(serializedBytes: encoded)
        #expect(decoded == message)
        #expect(decoded.hasSnapshot)
        #expect(decoded.snapshot.metadata.confState.votersOutgoing == [1, 2, 5])

        // ConfState voters(1) is a packed repeated uint64: LEN 3 [1 2 3].
        let votersOnly: Data = try Flotilla_Peer_ConfState.with { $0.voters = [1, 2, 3] }.serializedBytes()
        #expect(votersOnly == WireBytes.hex("0A 03 01 02 03"), "got \(WireBytes.describe(votersOnly))")

        // A message without a snapshot carries no field 9.
        var append = Flotilla_Peer_RaftMessage()
        append.type = .append
        #expect(!append.hasSnapshot)
        let appendBytes: Data = try append.serializedBytes()
        #expect(appendBytes == WireBytes.hex("08 03"), "got \(WireBytes.describe(appendBytes))")
    }

    @Test func messageTypeNumberingMatchesRaftCore() {
        // RaftCore.MessageType raw values (Sources/RaftCore/Types/Message.swift).
        let expected: [(Flotilla_Peer_MessageType, Int)] = [
            (.hup, 0), (.beat, 1), (.propose, 2), (.append, 3), (.appendResponse, 4),
            (.requestVote, 5), (.requestVoteResponse, 6), (.snapshot, 7), (.heartbeat, 8),
            (.heartbeatResponse, 9), (.unreachable, 10), (.snapshotStatus, 11),
            (.checkQuorum, 12), (.transferLeader, 13), (.timeoutNow, 14), (.readIndex, 15),
            (.readIndexResponse, 16), (.requestPreVote, 17), (.requestPreVoteResponse, 18),
        ]
        for (type, number) in expected {
            #expect(type.rawValue == number, "\(type)")
        }
        #expect(Flotilla_Peer_MessageType.allCases.count == expected.count)
        #expect(Flotilla_Peer_EntryType.normal.rawValue == 0)
        #expect(Flotilla_Peer_EntryType.confChange.rawValue == 1)
    }

    @Test func snapshotChunkFirstAndLast() throws {
        var header = Flotilla_Peer_SnapshotHeader()
        header.fromNode = 1
        header.toNode = 2
        header.totalBytes = 4096
        var first = Flotilla_Peer_SnapshotChunk()
        first.rangeID = 7
        first.header = header
        first.data = Data([1, 2, 3])
        first.uncompressedBytes = 10
        first.checksum = 0xDEADBEEF
        // range_id(1) | header(2){from_node(1), to_node(2), total_bytes(5)=4096 as 80 20} |
        // data(4) | uncompressed_bytes(5) | checksum(6)=0xDEADBEEF as varint EF FD B6 F5 0D
        let expected = WireBytes.hex(
            "08 07 | 12 07 08 01 10 02 28 80 20 | 22 03 01 02 03 | 28 0A | 30 EF FD B6 F5 0D")
        let encoded: Data = try first.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")

        var last = Flotilla_Peer_SnapshotChunk()
        last.rangeID = 7
        last.chunkIndex = 2
        last.last = true
        let lastBytes: Data = try last.serializedBytes()
        #expect(lastBytes == WireBytes.hex("08 07 | 18 02 | 38 01"), "got \(WireBytes.describe(lastBytes))")
        #expect(try !Flotilla_Peer_SnapshotChunk(serializedBytes: lastBytes).hasHeader)
    }

    @Test func forwardBatchAndReply() throws {
        var request = Flotilla_Peer_ForwardRequest()
        request.requestID = 1
        request.rangeID = 7
        request.epoch = 2
        request.kind = 3
        request.payload = Data([0xAB])
        request.timeoutMs = 500
        var batch = Flotilla_Peer_ForwardBatch()
        batch.fromNode = 1
        batch.toNode = 2
        batch.requests = [request]
        // requests(3){request_id(1), range_id(2), epoch(3), kind(4), payload(5),
        //   timeout_ms(6)=500 as F4 03}: 14 bytes
        let expected = WireBytes.hex(
            "08 01 | 10 02 | 1A 0E 08 01 10 07 18 02 20 03 2A 01 AB 30 F4 03")
        let encoded: Data = try batch.serializedBytes()
        #expect(encoded == expected, "got \(WireBytes.describe(encoded))")
        #expect(try Flotilla_Peer_ForwardBatch(serializedBytes: expected) == batch)

        var reply = Flotilla_Peer_ForwardReply()
        #expect(reply.error == .ok)
        reply.requestID = 1
        reply.error = .notLeader
        reply.errorMessage = "no"
        reply.leaderHintNode = 3
        var replies = Flotilla_Peer_ForwardReplyBatch()
        replies.replies = [reply]
        // replies(1){request_id(1), error(2)=NOT_LEADER 1, error_message(3) "no",
        //   leader_hint_node(5)=3}: 10 bytes
        let replyBytes = WireBytes.hex("0A 0A 08 01 10 01 1A 02 6E 6F 28 03")
        let encodedReplies: Data = try replies.serializedBytes()
        #expect(encodedReplies == replyBytes, "got \(WireBytes.describe(encodedReplies))")
        #expect(try Flotilla_Peer_ForwardReplyBatch(serializedBytes: replyBytes) == replies)
    }

    @Test func unknownForwardErrorIsPreserved() throws {
        // A newer node may send an error code this build does not know; proto3 keeps
        // the number so it can be logged and re-sent unchanged.
        let reply = try Flotilla_Peer_ForwardReply(serializedBytes: WireBytes.hex("10 63"))
        #expect(reply.error.rawValue == 99)
        let reencoded: Data = try reply.serializedBytes()
        #expect(reencoded == WireBytes.hex("10 63"))
    }
}
