import Foundation
import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The event-loop side of a bridged stream: its request-message reader and the stream
/// flow-control credit. `pendingCreditBytes` were received but not yet returned to the client;
/// `queuedBytes` were handed to the RPC's inbound queue but not yet consumed. Credit goes back
/// while the queue holds at most half a stream window, so a handler that stops reading stops
/// the client after about one and a half windows.
struct BridgeEntry {
    let stream: LeanBridgedStream
    var reader: GRPCMessageReader
    var pendingCreditBytes = 0
    var queuedBytes = 0
    var inboundEnded = false
    var sentHeaders = false
    /// The RPC's status (END_STREAM) is written.
    var ended = false
}

extension LeanGRPCHandler {
    /// A stream the lean path does not answer: make it an `RPCStream` for `GRPCServer`.
    func openBridged(_ id: HTTP2StreamID, path: String, headers: HPACKHeaders, endStream: Bool,
                     context: ChannelHandlerContext) {
        guard let onStream else { return }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
            writeNow(LeanConnection.trailersOnly(id, .unimplemented("malformed method name: \(path)")), context: context)
            return
        }
        let stream = LeanBridgedStream(
            id: id, descriptor: MethodDescriptor(fullyQualifiedService: String(parts[1]), method: String(parts[2])),
            remotePeer: remotePeer, localPeer: localPeer, timed: headers.first(name: "grpc-timeout") != nil,
            handler: NIOLoopBound(self, eventLoop: context.eventLoop), loop: context.eventLoop)
        bridged[id] = BridgeEntry(stream: stream,
                                  reader: GRPCMessageReader(maxMessageBytes: connection.limits.maxRequestMessageBytes))
        stream.inboundSink.yield(.metadata(Self.metadata(headers)))
        if endStream { receiveBridged(id, ByteBuffer(), flowControlledBytes: 0, endStream: true, context: context) }
        onStream(stream)
    }

    /// Request bytes of a bridged stream: whole messages go to the RPC's inbound queue.
    func receiveBridged(_ id: HTTP2StreamID, _ bytes: ByteBuffer, flowControlledBytes: Int, endStream: Bool,
                        context: ChannelHandlerContext) {
        guard var entry = bridged[id], !entry.inboundEnded else { return }
        entry.pendingCreditBytes += flowControlledBytes
        entry.reader.append(bytes)
        do {
            while let message = try entry.reader.next() {
                entry.queuedBytes += message.readableBytes + 5
                entry.stream.inboundSink.yield(.message(LeanBytes(message)))
            }
            if endStream {
                entry.inboundEnded = true
                if entry.reader.bufferedBytes > 0 {
                    entry.stream.inboundSink.finish(throwing: RPCError(code: .internalError,
                                                                       message: "grpc: request ended inside a message"))
                } else {
                    entry.stream.inboundSink.finish()
                }
            }
        } catch GRPCMessageReader.Failure.tooLarge(let length, let limit) {
            entry.inboundEnded = true
            entry.stream.inboundSink.finish(throwing: RPCError(
                code: .resourceExhausted, message: "grpc: received message larger than max (\(length) vs. \(limit))"))
        } catch {
            entry.inboundEnded = true
            entry.stream.inboundSink.finish(throwing: RPCError(code: .internalError,
                                                               message: "grpc: compressed message without grpc-encoding"))
        }
        bridged[id] = entry
        creditBridged(id, context: context)
    }

    /// The RPC consumed a message of `bytes` (with its 5-byte prefix).
    func bridgedConsumed(_ id: HTTP2StreamID, bytes: Int) {
        guard let context, bridged[id] != nil else { return }
        bridged[id]!.queuedBytes -= bytes
        creditBridged(id, context: context)
    }

    private func creditBridged(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard var entry = bridged[id], !entry.inboundEnded, entry.pendingCreditBytes > 0 else { return }
        let window = connection.limits.streamWindow
        guard entry.queuedBytes <= window / 2, entry.pendingCreditBytes >= window / 4 || entry.queuedBytes == 0 else { return }
        let credit = entry.pendingCreditBytes
        entry.pendingCreditBytes = 0
        bridged[id] = entry
        writeNow(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: credit)), context: context)
    }

    /// Writes one response part of a bridged stream. `bytes` of outbound budget are released
    /// when the frame has left for the socket (or was dropped).
    func writeBridged(_ id: HTTP2StreamID, _ part: RPCResponsePart<LeanBytes>, bytes: Int, stream: LeanBridgedStream) {
        guard let context, var entry = bridged[id], entry.stream === stream, !entry.ended else {
            stream.release(bytes)
            return
        }
        switch part {
        case .metadata(let metadata):
            guard !entry.sentHeaders else { break }
            entry.sentHeaders = true
            var headers = LeanConnection.responseHeaders
            Self.add(metadata, to: &headers)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers)))), promise: nil)
        case .message(let message):
            var body = context.channel.allocator.buffer(capacity: message.count + 5)
            GRPCMessageReader.write(message.buffer, into: &body)
            writeData(id, body, bytes: bytes, stream: stream, entry: &entry, context: context)
        case .status(let status, let trailers):
            entry.ended = true
            var headers: HPACKHeaders = entry.sentHeaders ? [:] : LeanConnection.responseHeaders
            headers.add(name: "grpc-status", value: String(status.code.rawValue))
            if !status.message.isEmpty {
                headers.add(name: "grpc-message", value: GRPCStatusMessage.percentEncoded(status.message))
            }
            Self.add(trailers, to: &headers)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))),
                          promise: nil)
            if !entry.inboundEnded {
                // The client has not finished its side: tell it to stop (gRPC over HTTP/2).
                entry.inboundEnded = true
                entry.stream.inboundSink.finish()
                context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.noError))), promise: nil)
            }
        }
        bridged[id] = entry
        scheduleFlush(context)
    }

    /// Writes already length-prefixed messages (a native stream's batch, `LeanMessageWriter`)
    /// as one DATA write; `bytes` of budget are released as in `writeBridged`.
    func writeFramed(_ id: HTTP2StreamID, _ body: ByteBuffer, bytes: Int, stream: LeanBridgedStream) {
        guard let context, var entry = bridged[id], entry.stream === stream, !entry.ended else {
            stream.release(bytes)
            return
        }
        writeData(id, body, bytes: bytes, stream: stream, entry: &entry, context: context)
        bridged[id] = entry
        scheduleFlush(context)
    }

    private func writeData(_ id: HTTP2StreamID, _ body: ByteBuffer, bytes: Int, stream: LeanBridgedStream,
                           entry: inout BridgeEntry, context: ChannelHandlerContext) {
        if !entry.sentHeaders {
            entry.sentHeaders = true
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: LeanConnection.responseHeaders)))),
                          promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in stream.release(bytes) }
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(body))))), promise: written)
    }

    /// One flush for the writes queued on the loop in the same tick (unary answers, many
    /// watch streams, or a status right behind a message), like grpc-swift's flush coalescing.
    func scheduleFlush(_ context: ChannelHandlerContext) {
        if inReadBatch {
            pendingFlush = true
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.flushScheduled = false
            bound.value.context?.flush()
        }
    }

    /// The RPC's handler returned; a stream it left without a status is reset.
    func bridgedHandlerReturned(_ id: HTTP2StreamID) {
        guard let context, let entry = bridged[id], !entry.ended else { return }
        bridged[id]!.ended = true
        writeNow(HTTP2Frame(streamID: id, payload: .rstStream(.cancel)), context: context)
    }

    /// NIOHTTP2 closed the stream: after our END_STREAM that is the normal end; otherwise
    /// (client RST_STREAM, stream error) the RPC is cancelled.
    func bridgedStreamClosed(_ id: HTTP2StreamID, reason: HTTP2ErrorCode?) {
        guard let entry = bridged.removeValue(forKey: id) else { return }
        if !entry.ended {
            entry.stream.close(RPCError(code: .cancelled, message: "stream reset by the client (\(reason.map { "\($0)" } ?? "closed"))"))
        }
    }

    /// The connection is gone: every open RPC on it is cancelled.
    func closeAllBridged(_ error: RPCError) {
        let entries = bridged
        bridged.removeAll()
        for entry in entries.values where !entry.ended { entry.stream.close(error) }
    }

    private func writeNow(_ frame: HTTP2Frame, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(frame), promise: nil)
        if inReadBatch { pendingFlush = true } else { context.flush() }
    }

    // MARK: headers ↔ metadata

    /// Request headers as gRPC metadata: every non-pseudo header (`grpc-timeout` included:
    /// `GRPCServer` enforces it); `-bin` values are base64-decoded.
    static func metadata(_ headers: HPACKHeaders) -> Metadata {
        var metadata = Metadata()
        for (name, value, _) in headers where !name.hasPrefix(":") {
            if name.hasSuffix("-bin") {
                if let bytes = base64Decoded(value) { metadata.addBinary(bytes, forKey: name) }
            } else {
                metadata.addString(value, forKey: name)
            }
        }
        return metadata
    }

    /// Adds metadata as headers (lower-case names; binary values base64).
    static func add(_ metadata: Metadata, to headers: inout HPACKHeaders) {
        for (key, value) in metadata {
            let name = key.lowercased()
            guard !name.hasPrefix(":"), name != "content-type", name != "grpc-status", name != "grpc-message" else { continue }
            headers.add(name: name, value: value.encoded())
        }
    }

    /// gRPC sends binary headers base64 with or without padding.
    static func base64Decoded(_ value: String) -> [UInt8]? {
        var text = value
        let remainder = text.utf8.count % 4
        if remainder != 0 { text += String(repeating: "=", count: 4 - remainder) }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }

    static func peerName(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        switch address {
        case .v4(let a): return "ipv4:\(a.host):\(address.port ?? 0)"
        case .v6(let a): return "ipv6:[\(a.host)]:\(address.port ?? 0)"
        case .unixDomainSocket: return "unix:\(address.pathname ?? "")"
        }
    }
}
