import Logging
import NIOCore
import Synchronization

extension CallChannel {
    /// The call stream of `LeanPeerTransport`: one lean connection of role `call`. Queued
    /// calls are written from the connection's event loop: the first call queued in a round
    /// schedules ONE drain there (`LeanCallDrain`), which writes everything queued by then as
    /// `calls` frames with one flush — no writer task, no task hop per call. Answers are
    /// matched on the event loop as they arrive. Returns (throwing) when the connection
    /// closes; closes it when the calling task is cancelled.
    static func leanStream(address: PeerTransportConfig.Address, group: any EventLoopGroup,
                           logger: Logger) -> @Sendable (CallChannel) async throws -> Void {
        { calls in
            let channel = try await LeanDialer.dial(address, role: .call, config: calls.config, group: group, logger: logger,
                                                    onFrame: { frame in
                guard frame.kind == .answers else { return }
                do {
                    try calls.receiveAnswers(frame.payload)
                } catch {
                    logger.error("malformed node call answers", metadata: ["peer": "\(calls.peer)", "error": "\(error)"])
                }
            }).get()
            let drain = LeanCallDrain(calls: calls, channel: channel)
            calls.wake.withLock { $0 = { drain.schedule() } }
            defer { calls.wake.withLock { $0 = nil } }
            calls.markConnected()
            drain.schedule()
            try await withTaskCancellationHandler {
                try await channel.closeFuture.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            throw ChannelError.ioOnClosedChannel
        }
    }
}

/// Writes ONE call connection's queued calls from its event loop, one flush per drain; at
/// most one drain is scheduled at a time. Owns the "scheduled" flag.
final class LeanCallDrain: Sendable {
    let calls: CallChannel
    let channel: any Channel
    let scheduled = Atomic<Bool>(false)

    init(calls: CallChannel, channel: any Channel) {
        self.calls = calls
        self.channel = channel
    }

    func schedule() {
        guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        channel.eventLoop.execute { self.run() }
    }

    func run() {
        scheduled.store(false, ordering: .releasing)
        // A closed connection writes nothing: its queued calls stay unwritten (→ unreachable).
        guard channel.isActive else { return }
        let live = calls.takeLive(calls.outbound.takeAll())
        guard !live.isEmpty else { return }
        let chunks = CallFrame.chunks(live)
        channel.writeFrames(chunks.map { LeanFrame(.calls, CallFrame.encodeCalls(from: calls.config.nodeID, $0)) })
        calls.countWrite(calls: live.count, messages: chunks.count)
    }
}
