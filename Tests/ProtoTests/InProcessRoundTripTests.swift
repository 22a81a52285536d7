import Foundation
import GRPCCore
import GRPCInProcessTransport
import Proto
import Testing

/// Drives the generated client and server stubs end to end over grpc-swift-2's
/// in-process transport: one unary etcd call and one bidirectional peer stream.
@Suite struct InProcessRoundTripTests {
    @Test func kvPutThroughGeneratedStubs() async throws {
        let transport = InProcessTransport()
        let reply = try await withGRPCServer(transport: transport.server, services: [EchoKV()]) { _ in
            try await withGRPCClient(transport: transport.client) { client in
                var put = Etcdserverpb_PutRequest()
                put.key = Data("k".utf8)
                put.value = Data("v".utf8)
                put.prevKv = true
                return try await Etcdserverpb_KV.Client(wrapping: client).put(put)
            }
        }
        #expect(reply.header.revision == 2)
        #expect(reply.prevKv.key == Data("k".utf8))
        #expect(reply.prevKv.value == Data("v".utf8))
    }

    @Test func unimplementedMethodReportsItsCode() async throws {
        let transport = InProcessTransport()
        let code = try await withGRPCServer(transport: transport.server, services: [EchoKV()]) { _ in
            try await withGRPCClient(transport: transport.client) { client in
                do {
                    _ = try await Etcdserverpb_KV.Client(wrapping: client).compact(Etcdserverpb_CompactionRequest())
                    return nil as RPCError.Code?
                } catch let error as RPCError {
                    return error.code
                }
            }
        }
        #expect(code == .unimplemented)
    }

    @Test func raftStreamAcksEveryBatch() async throws {
        let transport = InProcessTransport()
        let acks = try await withGRPCServer(transport: transport.server, services: [AckingPeer(hostedRanges: [1])]) { _ in
            try await withGRPCClient(transport: transport.client) { client in
                try await Flotilla_Peer_Peer.Client(wrapping: client).raft(
                    requestProducer: { writer in
                        for sequence in UInt64(1)...3 {
                            var batch = Flotilla_Peer_RaftMessageBatch()
                            batch.fromNode = 1
                            batch.toNode = 2
                            batch.sequence = sequence
                            for rangeID in [UInt64(1), sequence + 1] {
                                var envelope = Flotilla_Peer_RaftEnvelope()
                                envelope.rangeID = rangeID
                                envelope.message.type = .heartbeat
                                batch.envelopes.append(envelope)
                            }
                            try await writer.write(batch)
                        }
                    },
                    onResponse: { response in
                        var acks: [Flotilla_Peer_RaftAck] = []
                        for try await ack in response.messages { acks.append(ack) }
                        return acks
                    })
            }
        }
        #expect(acks.map(\.ackedSequence) == [1, 2, 3])
        #expect(acks.map(\.unknownRangeIds) == [[2], [3], [4]])
    }
}

/// Test double: answers Put with the request echoed as prev_kv; everything else is
/// unimplemented.
private struct EchoKV: Etcdserverpb_KV.SimpleServiceProtocol {
    func range(request: Etcdserverpb_RangeRequest, context: ServerContext) async throws -> Etcdserverpb_RangeResponse {
        throw RPCError(code: .unimplemented, message: "range")
    }

    func put(request: Etcdserverpb_PutRequest, context: ServerContext) async throws -> Etcdserverpb_PutResponse {
        var response = Etcdserverpb_PutResponse()
        response.header.revision = 2
        response.prevKv.key = request.key
        response.prevKv.value = request.value
        return response
    }

    func deleteRange(request: Etcdserverpb_DeleteRangeRequest, context: ServerContext) async throws -> Etcdserverpb_DeleteRangeResponse {
        throw RPCError(code: .unimplemented, message: "deleteRange")
    }

    func txn(request: Etcdserverpb_TxnRequest, context: ServerContext) async throws -> Etcdserverpb_TxnResponse {
        throw RPCError(code: .unimplemented, message: "txn")
    }

    func compact(request: Etcdserverpb_CompactionRequest, context: ServerContext) async throws -> Etcdserverpb_CompactionResponse {
        throw RPCError(code: .unimplemented, message: "compact")
    }
}

/// Test double: acks each Raft batch by sequence and names the ranges it does not host.
private struct AckingPeer: Flotilla_Peer_Peer.SimpleServiceProtocol {
    let hostedRanges: Set<UInt64>

    func raft(
        request: RPCAsyncSequence<Flotilla_Peer_RaftMessageBatch, any Error>,
        response: RPCWriter<Flotilla_Peer_RaftAck>,
        context: ServerContext
    ) async throws {
        for try await batch in request {
            var ack = Flotilla_Peer_RaftAck()
            ack.ackedSequence = batch.sequence
            ack.unknownRangeIds = batch.envelopes.map(\.rangeID).filter { !hostedRanges.contains($0) }
            try await response.write(ack)
        }
    }

    func snapshot(
        request: RPCAsyncSequence<Flotilla_Peer_SnapshotChunk, any Error>,
        context: ServerContext
    ) async throws -> Flotilla_Peer_SnapshotAck {
        throw RPCError(code: .unimplemented, message: "snapshot")
    }

    func forward(
        request: RPCAsyncSequence<Flotilla_Peer_ForwardBatch, any Error>,
        response: RPCWriter<Flotilla_Peer_ForwardReplyBatch>,
        context: ServerContext
    ) async throws {
        throw RPCError(code: .unimplemented, message: "forward")
    }
}
