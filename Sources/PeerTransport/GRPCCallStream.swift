import GRPCCore
import GRPCNIOTransportHTTP2

extension CallChannel {
    /// The call stream of `GRPCPeerTransport`: one bidirectional `RawPeer/Call` stream on
    /// the peer's shared `GRPCClient`, carrying `CallFrame` messages.
    static func grpcStream(client: GRPCClient<HTTP2ClientTransport.Posix>) -> @Sendable (CallChannel) async throws -> Void {
        { channel in
            let me = channel.config.nodeID
            let request = StreamingClientRequest<[UInt8]> { writer in
                try await writer.write(CallFrame.encodeCalls(from: me, [CallFrame.Item]()))
                while let queued = await channel.outbound.next() {
                    let live = channel.takeLive(queued)
                    guard !live.isEmpty else { continue }
                    let messages = CallFrame.chunks(live)
                    for chunk in messages { try await writer.write(CallFrame.encodeCalls(from: me, chunk)) }
                    channel.countWrite(calls: live.count, messages: messages.count)
                }
                throw CancellationError()
            }
            try await client.bidirectionalStreaming(
                request: request, descriptor: PeerMethods.call,
                serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(),
                options: PeerLink.callOptions
            ) { response in
                // Up once the peer has accepted the stream (its response headers arrived), not
                // when our first write was buffered: a stream that a refused or backing-off
                // connection is about to fail must not take calls it then reports as timeouts.
                if case .success = response.accepted { channel.markConnected() }
                for try await message in response.messages { try channel.receiveAnswers(message) }
            }
        }
    }
}
