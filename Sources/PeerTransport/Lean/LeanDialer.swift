import Logging
import NIOCore
import NIOPosix

/// Opens one lean peer connection of one role: TCP connect (TCP_NODELAY, SO_KEEPALIVE),
/// decoder + `LeanDialHandler`, and the hello exchange. The returned future succeeds with
/// the channel once both hellos passed. Stateless.
enum LeanDialer {
    static func dial(_ address: PeerTransportConfig.Address, role: LeanHello.Role, config: PeerTransportConfig,
                     group: any EventLoopGroup, logger: Logger,
                     onFrame: @escaping @Sendable (LeanFrame) -> Void,
                     onWritable: @escaping @Sendable () -> Void = {}) -> EventLoopFuture<any Channel> {
        let loop = group.next()
        let greeted = loop.makePromise(of: Void.self)
        let hello = LeanHello(role: role, node: config.nodeID)
        let maxLength = config.maxMessageBytes + 1
        let connect = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(Int64(config.keepaliveTimeoutMs)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(LeanFrameDecoder(maxLength: maxLength)),
                        LeanDialHandler(hello: hello, greeted: greeted, keepaliveIntervalMs: config.keepaliveIntervalMs,
                                        keepaliveTimeoutMs: config.keepaliveTimeoutMs, logger: logger,
                                        peerDescription: "\(address)", onFrame: onFrame, onWritable: onWritable))
                }
            }
            .connect(host: address.host, port: address.port)
        connect.whenFailure { greeted.fail($0) }
        return connect.flatMap { channel in
            greeted.futureResult.map { channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }
}
