import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 server for the metrics port: GET `/metrics`, `/health`, `/status`
/// answered by `respond(path) -> (status, contentType, body)`. Owns its listening channel.
final class MetricsHTTPServer: Sendable {
    typealias Responder = @Sendable (String) -> (HTTPResponseStatus, String, String)
    let channel: any Channel

    static func start(host: String, port: Int, respond: @escaping Responder) async throws -> MetricsHTTPServer {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(HTTPHandler(respond: respond))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return MetricsHTTPServer(channel: channel)
    }

    init(channel: any Channel) { self.channel = channel }

    var port: Int { channel.localAddress?.port ?? 0 }

    func stop() async { try? await channel.close().get() }
}

/// Answers each request head on one connection. Owned by its channel's pipeline.
private final class HTTPHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let respond: MetricsHTTPServer.Responder

    init(respond: @escaping MetricsHTTPServer.Responder) { self.respond = respond }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
        let (status, type, body) = head.method == .GET
            ? respond(path) : (.methodNotAllowed, "text/plain", "GET only\n")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        let buffer = context.channel.allocator.buffer(string: body)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
