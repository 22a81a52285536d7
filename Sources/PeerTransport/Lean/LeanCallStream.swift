import Logging
import NIOCore

extension CallChannel {
    /// The call stream of `LeanPeerTransport`: one lean connection of role `call`. The
    /// writer takes everything `outbound` holds at once and writes it as `calls` frames
    /// with one flush; answers are matched on the event loop as they arrive (no task hop).
    /// Ends (throwing) when the connection closes; closes it when the writer stops.
    static func leanStream(address: PeerTransportConfig.Address, group: any EventLoopGroup,
                           logger: Logger) -> @Sendable (CallChannel) async throws -> Void {
        { calls in
            let me = calls.config.nodeID
            let channel = try await LeanDialer.dial(address, role: .call, config: calls.config, group: group, logger: logger,
                                                    onFrame: { frame in
                guard frame.kind == .answers else { return }
                do {
                    try calls.receiveAnswers(frame.payload)
                } catch {
                    logger.error("malformed node call answers; closing the call connection",
                                 metadata: ["peer": "\(calls.peer)", "error": "\(error)"])
                }
            }).get()
            calls.markConnected()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await channel.closeFuture.get()
                    throw ChannelError.ioOnClosedChannel
                }
                group.addTask {
                    defer { channel.close(promise: nil) }
                    while let queued = await calls.outbound.next() {
                        let live = calls.takeLive(queued)
                        guard !live.isEmpty else { continue }
                        let chunks = CallFrame.chunks(live)
                        channel.writeFrames(chunks.map { LeanFrame(.calls, CallFrame.encodeCalls(from: me, $0)) })
                        calls.countWrite(calls: live.count, messages: chunks.count)
                    }
                    throw CancellationError()
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
